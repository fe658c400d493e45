import StrataCore

extension TrainingLog {
    /// Reads back a log written by `writeCSV(to:)`, so a resumed run keeps
    /// appending to the same table: the header gives the columns in order,
    /// an empty cell is a missing value, `nan`, `inf` and `-inf` are the
    /// non-finite values as written. A file that is not in that format
    /// (no header, an empty or repeated column name, a row with a different
    /// number of cells, a cell that is not a number) is a thrown
    /// `StrataError.io` naming the line.
    public init(resumingFrom path: String) throws {
        self.init()
        let text = String(decoding: try readWholeFile(path), as: UTF8.self)
        func fail(_ reason: String) -> StrataError { .io(path: path, reason: "not a TrainingLog CSV: " + reason) }
        let records = try Self.csvRecords(text, fail: fail)
        guard let header = records.first else { throw fail("no header line") }
        if header == [""] && records.count == 1 { return }  // a log without columns
        var seen: Set<String> = []
        for name in header {
            guard !name.isEmpty else { throw fail("line 1 has an empty column name") }
            guard seen.insert(name).inserted else { throw fail("line 1 names column \"\(name)\" twice") }
        }
        for (n, cells) in records.enumerated().dropFirst() {
            guard cells.count == header.count else {
                throw fail("line \(n + 1) has \(cells.count) cells, the header \(header.count)")
            }
            var pairs: [(String, Double)] = []
            for (name, cell) in zip(header, cells) where !cell.isEmpty {
                guard let v = Self.parse(cell) else {
                    throw fail("line \(n + 1), column \"\(name)\": \"\(cell.prefix(40))\" is not a number")
                }
                pairs.append((name, v))
            }
            appendRow(pairs)
        }
        setColumns(header)
    }

    /// The inverse of `format`: decimal numbers, `nan`, `inf`, `-inf`.
    static func parse(_ cell: String) -> Double? {
        switch cell {
        case "nan": return .nan
        case "inf": return .infinity
        case "-inf": return -.infinity
        default:
            // Only what `format` writes: digits, sign, point, exponent.
            guard cell.utf8.allSatisfy({ (0x30...0x39).contains($0) || "+-.eE".utf8.contains($0) }),
                let v = Double(cell), v.isFinite
            else { return nil }
            return v
        }
    }

    /// Splits CSV text into records of fields: quoted fields may hold commas,
    /// doubled quotes and line breaks; a final line break ends the last record.
    static func csvRecords(_ text: String, fail: (String) -> StrataError) throws -> [[String]] {
        var records: [[String]] = [], fields: [String] = [], field = ""
        var inQuotes = false, afterQuote = false, line = 1
        var chars = Array(text.unicodeScalars)[...]
        if text.isEmpty { return [] }
        while let c = chars.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if chars.first == "\"" {
                        chars.removeFirst()
                        field.unicodeScalars.append(c)
                    } else {
                        inQuotes = false
                        afterQuote = true
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case ",":
                fields.append(field)
                field = ""
                afterQuote = false
            case "\n":
                fields.append(field)
                records.append(fields)
                fields = []
                field = ""
                afterQuote = false
                line += 1
            case "\r" where chars.first == "\n":
                continue
            case "\"" where field.isEmpty && !afterQuote:
                inQuotes = true
            default:
                guard !afterQuote else { throw fail("line \(line) has text after a closing quote") }
                if c == "\"" { throw fail("line \(line) has a quote inside an unquoted field") }
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes { throw fail("line \(line) has an unclosed quote") }
        if !field.isEmpty || !fields.isEmpty || afterQuote {
            fields.append(field)
            records.append(fields)
        }
        return records
    }
}
