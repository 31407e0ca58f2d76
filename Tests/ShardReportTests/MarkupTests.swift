import Testing

@testable import ShardReport

@Suite("Markup: escaping and coordinates")
struct MarkupTests {
    @Test("A column name that holds a tag, quotes and an ampersand cannot open an element")
    func escapesMarkup() {
        #expect(Markup.escape("<script>alert('x')</script> & \"y\"")
            == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;")
    }

    @Test("Characters XML 1.0 forbids become U+FFFD; tab and line breaks stay")
    func replacesControlCharacters() {
        #expect(Markup.escape("a\u{0}b\u{1B}c\td\n") == "a\u{FFFD}b\u{FFFD}c\td\n")
    }

    @Test("Coordinates have at most two decimals and no negative zero", arguments: [
        (12.0, "12"), (12.5, "12.5"), (-0.25, "-0.25"), (0.004, "0"), (-0.004, "0"), (3.14159, "3.14"), (0.05, "0.05"),
    ])
    func coordinates(value: Double, expected: String) {
        #expect(Markup.coordinate(value) == expected)
    }
}
