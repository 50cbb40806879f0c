/// Rules on free text that several services share.
enum TextRules {
    /// Whether `text` holds a control character (NUL cannot even be stored in PostgreSQL text).
    static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
