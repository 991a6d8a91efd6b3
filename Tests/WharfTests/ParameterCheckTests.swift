import Testing
import WharfCore

@testable import WharfWorkflow

/// Preset parameters against the top level of the preset's schema, as a plugin writes it.
@Suite(.layer(.unit)) struct ParameterCheckTests {
    static let schema = """
        {"type":"object","required":["language"],"additionalProperties":false,
         "properties":{"language":{"type":"string","minLength":2,"enum":["en","fr"]},
                       "size":{"type":"integer"},"mode":{"enum":[1,2]}}}
        """

    static func refusal(_ parameters: [String: String], _ schema: String = schema) -> String? {
        do {
            try ParameterCheck.validate(parameters, against: schema)
            return nil
        } catch let error as WharfError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func parametersTheSchemaAllowsPass() {
        #expect(Self.refusal(["language": "en", "size": "12"]) == nil)
        // An `enum` of numbers is not one Wharf checks on text parameters: ignored, not a failure.
        #expect(Self.refusal(["language": "fr", "mode": "anything"]) == nil)
    }

    @Test func eachRuleNamesTheParameter() {
        #expect(Self.refusal([:]) == "parameter 'language' is required")
        #expect(Self.refusal(["language": "en", "colour": "red"]) == "unknown parameter 'colour'")
        #expect(Self.refusal(["language": "e"]) == "parameter 'language' must have at least 2 characters")
        #expect(Self.refusal(["language": "de"]) == "parameter 'language' must be one of en, fr")
        #expect(Self.refusal(["language": "en", "size": "1e3"]) == "parameter 'size' must be an integer")
    }

    @Test func aSchemaForOtherNamesAllowsThem() {
        let open = #"{"type":"object","additionalProperties":{"type":"string"},"properties":{}}"#
        #expect(Self.refusal(["anything": "x"], open) == nil)
        #expect(Self.refusal(["anything": "x"], "not json") == nil)
    }
}
