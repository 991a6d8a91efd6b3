import Foundation

/// What Wharf reads of a preset's parameter JSON Schema: the top level of an object schema. Anything
/// else in the schema is left to the tools that show it; a keyword of an unexpected shape is ignored,
/// as a validator that does not know it would.
public struct ParameterSchema: Sendable, Hashable, Decodable {
    /// What Wharf reads of one parameter's schema.
    public struct Property: Sendable, Hashable, Decodable {
        /// `type`, when it is one name (`"string"`, `"integer"`, …).
        public var type: String?
        /// `minLength` of a string.
        public var minLength: Int?
        /// `enum`, when every allowed value is a string.
        public var allowedValues: [String]?

        private enum CodingKeys: String, CodingKey {
            case type, minLength
            case allowedValues = "enum"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try? container.decodeIfPresent(String.self, forKey: .type)
            minLength = try? container.decodeIfPresent(Int.self, forKey: .minLength)
            allowedValues = try? container.decodeIfPresent([String].self, forKey: .allowedValues)
        }
    }

    /// `type` of the schema itself: a preset's parameters are an `"object"`.
    public var type: String?
    public var properties: [String: Property]
    public var required: [String]
    /// Whether names outside `properties` are allowed (`additionalProperties: false` says no; a
    /// schema there counts as allowed).
    public var allowsOtherNames: Bool

    private enum CodingKeys: String, CodingKey {
        case type, properties, required, additionalProperties
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try? container.decodeIfPresent(String.self, forKey: .type)
        properties = (try? container.decodeIfPresent([String: Property].self, forKey: .properties)) ?? [:]
        required = (try? container.decodeIfPresent([String].self, forKey: .required)) ?? []
        allowsOtherNames = (try? container.decodeIfPresent(Bool.self, forKey: .additionalProperties)) != false
    }

    /// The schema in `text`, or `nil` when it is not a JSON object.
    public init?(parsing text: String) {
        guard let schema = try? JSONDecoder().decode(ParameterSchema.self, from: Data(text.utf8)) else { return nil }
        self = schema
    }
}
