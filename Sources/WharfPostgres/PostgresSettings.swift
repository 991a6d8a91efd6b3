import Foundation
import NIOSSL
import PostgresNIO
import WharfCore

/// Where the PostgreSQL store is and how to reach it (`store.postgres.*`).
public struct PostgresSettings: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is encrypted.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// Plain TCP (a database on loopback or a private network).
        case disable
        /// TLS when the server offers it, plain otherwise.
        case prefer
        /// TLS, with the server's certificate verified against the system's roots.
        case require
    }

    public var host: String
    public var port: Int
    public var database: String
    public var user: String
    public var password: String?
    public var tls: TLSMode
    /// The most connections the pool opens to the database.
    public var maximumConnections: Int
    /// How long opening a connection may take.
    public var connectTimeout: Duration

    public init(
        host: String = "127.0.0.1",
        port: Int = 5432,
        database: String = "wharf",
        user: String = "wharf",
        password: String? = nil,
        tls: TLSMode = .prefer,
        maximumConnections: Int = 20,
        connectTimeout: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.tls = tls
        self.maximumConnections = maximumConnections
        self.connectTimeout = connectTimeout
    }

    /// Reads a `postgres://user:password@host:port/database?sslmode=…` URL (also `postgresql://`);
    /// `sslmode` is `disable`, `prefer` or `require` (`verify-full` is read as `require`).
    /// - Throws: ``WharfError/Code/invalidArgument`` naming what is wrong; the message never repeats the
    ///   password.
    public init(url text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            ["postgres", "postgresql"].contains(scheme.lowercased())
        else {
            throw WharfError(.invalidArgument, "store.postgres.url must be a postgres:// URL")
        }
        guard let host = components.host, !host.isEmpty else {
            throw WharfError(.invalidArgument, "store.postgres.url names no host")
        }
        self.init(host: host)
        if let port = components.port {
            guard (1...65_535).contains(port) else {
                throw WharfError(.invalidArgument, "store.postgres.url has port \(port), outside 1-65535")
            }
            self.port = port
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        if !path.isEmpty { database = path }
        if let user = components.user, !user.isEmpty { self.user = user }
        password = components.password
        for item in components.queryItems ?? [] where item.name == "sslmode" {
            switch item.value {
            case "disable": tls = .disable
            case "prefer", "allow": tls = .prefer
            case "require", "verify-ca", "verify-full": tls = .require
            default:
                throw WharfError(.invalidArgument, "store.postgres.url has sslmode '\(item.value ?? "")'; use disable, prefer or require")
            }
        }
    }

    /// `user@host:port/database`, without the password.
    public var description: String { "\(user)@\(host):\(port)/\(database)" }

    var clientConfiguration: PostgresClient.Configuration {
        let tlsSetting: PostgresClient.Configuration.TLS =
            switch tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: host,
            port: port,
            username: user,
            password: password,
            database: database,
            tls: tlsSetting
        )
        configuration.options.maximumConnections = max(1, maximumConnections)
        // A connection left inside a transaction (it should never be) is ended by the server, so
        // the locks it holds cannot stop every node for long.
        configuration.options.additionalStartupParameters = [("idle_in_transaction_session_timeout", "30000")]
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }
}
