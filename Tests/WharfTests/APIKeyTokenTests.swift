import Testing
import WharfCore

@testable import WharfPolicy

/// The shape and randomness of API key tokens.
@Suite(.layer(.unit)) struct APIKeyTokenTests {
    @Test func generatedTokensHaveTheDocumentedShapeAndParse() throws {
        let token = APIKeyToken.generate()
        let parts = token.token.split(separator: "_")
        #expect(parts.count == 3)
        #expect(parts[0] == "wharf")
        #expect(parts[1].count == 12 && parts[1] == Substring(token.prefix))
        #expect(parts[2].count == 52)  // 32 random bytes in base32
        let parsed = try #require(APIKeyToken(parsing: token.token))
        #expect(parsed == token)
        #expect(parsed.digest.count == 32)
        #expect(!token.description.contains(String(parts[2])))
    }

    @Test func tokensAreUnique() {
        let tokens = Set((0..<1000).map { _ in APIKeyToken.generate().token })
        #expect(tokens.count == 1000)
    }

    @Test(arguments: [
        "", "wharf", "wharf__", "sk_abcdefghjkmn_" + String(repeating: "a", count: 52),
        "wharf_abcdefghjkm_" + String(repeating: "a", count: 52),
        "wharf_abcdefghjkmn_" + String(repeating: "a", count: 51),
        "wharf_ABCDEFGHJKMN_" + String(repeating: "a", count: 52),
        "wharf_abcdefghjkmn_" + String(repeating: "u", count: 52),
        "wharf_abcdefghjkmn_" + String(repeating: "a", count: 52) + "_x",
    ])
    func malformedTokensDoNotParse(text: String) {
        #expect(APIKeyToken(parsing: text) == nil)
    }

    @Test func constantTimeComparison() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
    }

    @Test func scopeListsParseAndRejectUnknownScopes() throws {
        #expect(try Scope.parseList("v1, v2") == [.v1, .v2])
        #expect(throws: WharfError.self) { try Scope.parseList("v1,root") }
        #expect(throws: WharfError.self) { try Scope.parseList(" , ") }
    }
}
