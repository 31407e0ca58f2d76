import Foundation
import ShardArtifacts

/// How the JSON documents the runs write (summaries, scale documents) are read back: snake-case keys, non-finite
/// numbers spelled "Infinity", "-Infinity", "NaN"; a decoding error becomes `ArtifactError.format` naming the file and
/// the field, spelled by `field` from the decoder's coding path.
enum DocumentDecoding {
    static func decode<T: Decodable>(
        _ type: T.Type, from json: Data, path: String, field: ([any CodingKey]) -> String, context: String
    ) throws(ArtifactError) -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return try decoder.decode(type, from: json)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .format(path: path, reason: "\(field(context.codingPath + [key])) is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw .format(path: path, reason: "\(field(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw .format(path: path, reason: "\(field(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw .format(path: path, reason: "\(context): \(error)")
        }
    }
}
