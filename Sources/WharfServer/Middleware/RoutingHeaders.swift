import Foundation
import HTTPTypes
import WharfCore

/// Reads the headers by which a request steers its routing, the same on every API.
enum RoutingHeaders {
    /// A header that cannot be read, in a sentence for the customer.
    struct Invalid: Error {
        var message: String
    }

    /// `Wharf-Routing-Seed` and `Wharf-Hedge` of `headers`.
    static func hints(_ headers: HTTPFields) throws(Invalid) -> RoutingHints {
        var hints = RoutingHints()
        if let header = headers[.wharfRoutingSeed] {
            guard let seed = UInt64(header.trimmingCharacters(in: .whitespaces)) else {
                throw Invalid(message: "Wharf-Routing-Seed must be a whole number from 0 to 18446744073709551615")
            }
            hints.seed = seed
        }
        if let header = headers[.wharfHedge] {
            switch header.trimmingCharacters(in: .whitespaces).lowercased() {
            case "off": hints.hedge = false
            case "on", "auto": hints.hedge = true
            default: throw Invalid(message: "Wharf-Hedge must be 'off' or 'auto'")
            }
        }
        return hints
    }
}

extension HTTPField.Name {
    /// `Wharf-Hedge: off`: the request's steps are never hedged.
    static let wharfHedge = HTTPField.Name("Wharf-Hedge")!
}
