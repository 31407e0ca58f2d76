#ifndef CFASTFLOAT_H
#define CFASTFLOAT_H

/// A C interface to fast_float (Debian `libfast-float-dev`): correctly rounded decimal → binary64
/// conversion (round to nearest, ties to even), the same value `strtod` gives for a decimal literal.

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

#ifdef __cplusplus
}
#endif

#endif
