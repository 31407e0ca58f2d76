#include "CFastFloat.h"

#include <fast_float/fast_float.h>

extern "C" const char *cff_parse_double(const char *first, const char *last, double *value) {
    const char *start = first;
    // fast_float 3.x reads a leading '-' only; '+' is accepted here as strtod accepts it, once.
    if (start < last && *start == '+') {
        if (start + 1 == last || start[1] == '+' || start[1] == '-') { return first; }
        ++start;
    }
    double parsed = 0;
    const fast_float::from_chars_result result = fast_float::from_chars(start, last, parsed);
    if (result.ptr == start) { return first; }
    *value = parsed;
    return result.ptr;
}
