import Testing

@testable import Reports

struct HTMLTextTests {
    @Test("markup characters are escaped in text and attributes")
    func escaping() {
        #expect(
            HTMLText.escape(#"<script>alert("x&y")</script> 'q'"#)
                == "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; &#39;q&#39;")
        #expect(HTMLText.escape("layers.0.weight ‖Δ‖") == "layers.0.weight ‖Δ‖")
    }

    @Test(
        "data attributes read back as the same doubles",
        arguments: [0.1, 1e-7, 3.0, -2.5, 123456.789, Double(Float(0.3))])
    func exactNumbers(value: Double) {
        #expect(Double(HTMLText.exact(value)) == value)
    }

    @Test(
        "labels keep about four significant digits",
        arguments: [
            (0.81234, "0.8123"), (1234.5, "1235"), (3.2e-5, "3.2e-05"), (0, "0"), (-0.5, "-0.5"), (2.5e7, "2.5e+07"),
            (9.99999e-5, "1e-04"),
        ])
    func shortNumbers(value: Double, text: String) {
        #expect(HTMLText.short(value) == text)
    }

    @Test("fixed decimals round half away from zero")
    func fixed() {
        #expect(HTMLText.fixed(81.2345, digits: 2) == "81.23")
        #expect(HTMLText.fixed(-0.004, digits: 2) == "0.00")
        #expect(HTMLText.fixed(2.5, digits: 0) == "3")
        #expect(HTMLText.fixed(.nan, digits: 1) == "—")
    }
}
