#ifndef CFASTFLOAT_H
#define CFASTFLOAT_H

/// A C interface to fast_float (Debian `libfast-float-dev`): correctly rounded decimal → binary64
/// conversion (round to nearest, ties to even), the same value `strtod` gives for a decimal literal.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Parses the longest number at the start of [first, last) into `*value` and returns the position after it,
/// or `first` when no number starts there (`*value` is then unchanged).
///
/// Grammar: `[+|-] (digits [. digits?] | . digits) [(e|E) [+|-] digits]`, or `inf`, `infinity`, `nan`,
/// `nan(chars)` in any case with an optional sign. A `+` followed by another sign is not a number. Nothing
/// is skipped: no whitespace, no hexadecimal (`0x10` reads as `0`, stopping before `x`). Magnitudes that
/// round beyond the largest finite double give ±infinity; those below half the smallest subnormal give ±0.
const char *cff_parse_double(const char *first, const char *last, double *value);

/// Reads whole lines of `columns` numbers from `*cursor` (a line start) on, up to `end`: fields separated by
/// `delimiter` (not a digit, sign, '.', 'e', 'E', quote or line break), each the whole of its field as
/// `cff_parse_double` reads it and finite; each line ending in "\n", "\r\n", or `end` (a "\r" just before `end`
/// included). Column `labelIndex` of row r goes to `labels[r]`, the others in order to
/// `features[r·(columns − 1) …]`. Stops after `maximumRows` rows, at `end`, or at the start of the first line
/// that is anything else (a quote, text, an empty field or line, a wrong field count, NaN…: the caller reads that
/// line), leaving `*cursor` there; returns the rows read. The slots of the line it stops at may have been written.
size_t cff_parse_number_rows(
    const char **cursor, const char *end, unsigned char delimiter, size_t columns, size_t labelIndex,
    double *features, double *labels, size_t maximumRows);

/// `cff_parse_number_rows` without vector instructions (what a CPU without SSE4.1 runs), for tests on CPUs with it.
size_t cff_parse_number_rows_portable(
    const char **cursor, const char *end, unsigned char delimiter, size_t columns, size_t labelIndex,
    double *features, double *labels, size_t maximumRows);

#ifdef __cplusplus
}
#endif

#endif
