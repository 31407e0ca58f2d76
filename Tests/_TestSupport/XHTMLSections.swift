import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// An HTML report read as XML (the reports are XHTML): whether it is well-formed, and the `id`s of its `<section>`
/// elements in order.
public struct XHTMLSections {
    public let wellFormed: Bool
    /// The parser's error when it is not well-formed.
    public let error: (any Error)?
    public let ids: [String]

    public init(_ html: String) {
        let collector = Collector()
        let parser = XMLParser(data: Data(html.utf8))
        parser.delegate = collector
        wellFormed = parser.parse()
        error = parser.parserError
        ids = collector.ids
    }

    final class Collector: NSObject, XMLParserDelegate {
        var ids: [String] = []

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if elementName == "section", let id = attributes["id"] { ids.append(id) }
        }
    }
}
