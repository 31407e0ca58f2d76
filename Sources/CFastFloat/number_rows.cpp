#include "CFastFloat.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Whole lines of decimal numbers, read field after field with no separate scan for line breaks or delimiters:
// each byte is looked at once, 16 at a time with SSE4.1 where the CPU has it (runtime dispatch), else 8 at a time
// (SWAR: one 64-bit word holds 8 characters). A variant that first finds the delimiters and line breaks of 64 bytes
// at a time with AVX2 compares, so that the fields of a line are parsed independently of each other, measured slower
// with either number reader (1M × 21 file, ns per field: SWAR 14.2 against 12.5, SSE4.1 18.6 against 10.7).

namespace {

constexpr uint64_t kEveryByte0x30 = 0x3030303030303030ULL;
constexpr uint64_t kHighNibbles = 0xF0F0F0F0F0F0F0F0ULL;

/// The 8 bytes at `p` as one word, the first byte in the low bits (x86-64 and AArch64 are little-endian).
inline uint64_t load8(const char *p) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    return word;
}

/// How many of the 8 characters in `word` are ASCII digits before the first one that is not (0…8).
/// Byte b is a digit iff its high nibble is 3 and that of b + 6 is 3 too. A carry out of byte j (b ≥ 0xFA, not a digit)
/// can only spoil the bytes after the first non-digit, so the count is exact.
inline int leadingDigits(uint64_t word) {
    const uint64_t notDigit =
        ((word & kHighNibbles) | (((word + 0x0606060606060606ULL) & kHighNibbles) >> 4)) ^ 0x3333333333333333ULL;
    return notDigit == 0 ? 8 : __builtin_ctzll(notDigit) >> 3;
}

/// The value of 8 digits, one per byte (0…9 each, the lowest byte most significant).
inline uint64_t digitValues(uint64_t digits) {
    digits = digits * 10 + (digits >> 8);  // in the even bytes: 10·d_k + d_(k+1)
    return uint32_t(
        (((digits & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32)))
            + (((digits >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32))))
        >> 32);
}

/// The value of the 8 digit characters in `word`.
inline uint64_t eightDigits(uint64_t word) { return digitValues(word - kEveryByte0x30); }

/// The value of the first `count` (1…8) digit characters of `word`: their digits are shifted to the top bytes, zeros
/// shifted in before them. (A borrow out of a byte beyond them only reaches bytes shifted out.)
inline uint64_t firstDigits(uint64_t word, int count) {
    return digitValues((word - kEveryByte0x30) << (8 * (8 - count)));
}

constexpr uint64_t kPowersOfTen[] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
};

constexpr double kExactPowersOfTen[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
};

/// ±digits / 10^fractionDigits, correctly rounded when digits ≤ 2^53 and fractionDigits ≤ 16 (both exact doubles,
/// one IEEE division). 10^0 = 1 divides exactly; the sign goes in as a bit (no branch on random signs).
inline double signedQuotient(uint64_t digits, int fractionDigits, bool negative) {
    const double magnitude = double(digits) / kExactPowersOfTen[fractionDigits];
    uint64_t bits;
    std::memcpy(&bits, &magnitude, 8);
    bits |= uint64_t(negative) << 63;
    double result;
    std::memcpy(&result, &bits, 8);
    return result;
}

/// The common short decimal `[-] d{1,7} [. d{0,16}]` (no exponent) at `p`, when its digits w fit 2^53 exactly:
/// then w and 10^f (f ≤ 16 fraction digits) are exact doubles and one IEEE division gives the correctly rounded
/// value (Clinger's fast path, the one fast_float itself takes for these). Returns the end of the number, or
/// nullptr when the text is anything else (fast_float reads those). Needs 32 readable bytes at `p`.
inline const char *shortDecimalSWAR(const char *p, double *value) {
    const bool negative = *p == '-';
    p += negative;
    uint64_t word = load8(p);
    int count = leadingDigits(word);
    if (count == 0 || count == 8) { return nullptr; }
    uint64_t digits = firstDigits(word, count);
    int digitCount = count;
    p += count;
    int fractionDigits = 0;
    if (*p == '.') {
        ++p;
        word = load8(p);
        count = leadingDigits(word);
        if (count == 8) {
            digits = digits * 100000000ULL + eightDigits(word);
            p += 8;
            fractionDigits = 8;
            word = load8(p);
            count = leadingDigits(word);
            if (count == 8) { return nullptr; }
        }
        if (count > 0) {
            digits = digits * kPowersOfTen[count] + firstDigits(word, count);
            p += count;
            fractionDigits += count;
        }
        digitCount += fractionDigits;
    }
    // An exponent, or more digits than a 64-bit integer holds surely (19), or beyond 2^53: fast_float decides.
    if ((*p | 0x20) == 'e' || digitCount > 19 || digits > (1ULL << 53)) { return nullptr; }
    *value = signedQuotient(digits, fractionDigits, negative);
    return p;
}

#if defined(__x86_64__)
/// pshufb controls (index 0x80 gives a zero byte).
struct DigitShuffles {
    /// kDropping[d]: the 16 bytes without byte d (those after it move down one; a zero comes in at the top).
    alignas(16) uint8_t dropping[17][16];
    /// kRightAligning[n]: the first n bytes moved to the top n places, zeros below them.
    alignas(16) uint8_t rightAligning[17][16];

    constexpr DigitShuffles() : dropping(), rightAligning() {
        for (int d = 0; d <= 16; ++d) {
            for (int j = 0; j < 16; ++j) {
                const int source = j < d ? j : j + 1;
                dropping[d][j] = source < 16 ? uint8_t(source) : 0x80;
                rightAligning[d][j] = j < 16 - d ? 0x80 : uint8_t(j - (16 - d));
            }
        }
    }
};
constexpr DigitShuffles kDigitShuffles;

/// `shortDecimalSWAR`'s contract, 16 bytes at a time: `[-] (digits and at most one '.', 1–16 digits, 15 bytes at
/// most)` followed by anything but a digit, '.', 'e' or 'E', with its digits w ≤ 2^53. The digits and the '.' are
/// found by compares; the '.' is squeezed out and the digits right-aligned (two byte shuffles), then summed in pairs,
/// fours and eights by multiply-adds. Needs 32 readable bytes at `p`.
__attribute__((target("sse4.1"))) inline const char *shortDecimalSSE41(const char *p, double *value) {
    const bool negative = *p == '-';
    p += negative;
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
    const __m128i digits = _mm_sub_epi8(bytes, _mm_set1_epi8('0'));
    const __m128i isDigit = _mm_cmpeq_epi8(_mm_min_epu8(digits, _mm_set1_epi8(9)), digits);
    const uint32_t dotMask = uint32_t(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('.'))));
    const uint32_t numberMask = uint32_t(_mm_movemask_epi8(isDigit)) | dotMask;
    const int length = __builtin_ctz(~numberMask);  // 0…16: bits 16 and up of ~numberMask are set
    const uint32_t dots = dotMask & ((1U << length) - 1);
    const int digitCount = length - __builtin_popcount(dots);
    if (length == 16 || (dots & (dots - 1)) != 0 || digitCount == 0 || (p[length] | 0x20) == 'e') { return nullptr; }
    const int dot = dots != 0 ? __builtin_ctz(dots) : length;
    const int fractionDigits = dots != 0 ? length - dot - 1 : 0;
    __m128i packed = _mm_shuffle_epi8(
        digits, _mm_load_si128(reinterpret_cast<const __m128i *>(kDigitShuffles.dropping[dot])));
    packed = _mm_shuffle_epi8(
        packed, _mm_load_si128(reinterpret_cast<const __m128i *>(kDigitShuffles.rightAligning[digitCount])));
    const __m128i pairs = _mm_maddubs_epi16(packed, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
    const __m128i fours = _mm_madd_epi16(pairs, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    const __m128i eights = _mm_madd_epi16(_mm_packus_epi32(fours, fours), _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
    const uint64_t high = uint32_t(_mm_cvtsi128_si32(eights)), low = uint32_t(_mm_extract_epi32(eights, 1));
    const uint64_t w = high * 100000000ULL + low;
    // (With a '.', at most 14 digits fit the 15 bytes, so only a 16-digit integer can exceed 2^53.)
    if (w > (1ULL << 53)) { return nullptr; }
    *value = signedQuotient(w, fractionDigits, negative);
    return p + length;
}
#endif

/// The rows loop of `cff_parse_number_rows`, with `shortDecimal` for the common numbers (which needs 32 readable
/// bytes) and fast_float for every other.
template <const char *(*shortDecimal)(const char *, double *)>
inline size_t numberRows(
    const char **cursor, const char *end, unsigned char delimiter, size_t columns, size_t labelIndex,
    double *features, double *labels, size_t maximumRows) {
    const char *line = *cursor;
    const size_t featureCount = columns - 1;
    size_t rows = 0;
    while (rows < maximumRows && line < end) {
        const char *p = line;
        double *featureOut = features + rows * featureCount;
        bool complete = true;
        for (size_t column = 0; column < columns; ++column) {
            double value = 0;
            const char *stop = end - p >= 32 ? shortDecimal(p, &value) : nullptr;
            if (stop == nullptr) {
                stop = cff_parse_double(p, end, &value);
                if (stop == p || !std::isfinite(value)) {
                    complete = false;
                    break;
                }
            }
            if (column + 1 < columns) {
                if (stop == end || static_cast<unsigned char>(*stop) != delimiter) {
                    complete = false;
                    break;
                }
                p = stop + 1;
            } else {
                p = stop;
            }
            if (column == labelIndex) {
                labels[rows] = value;
            } else {
                *featureOut++ = value;
            }
        }
        if (!complete) { break; }
        // The line ends here: "\n", "\r\n", or the end of the text ("\r" just before it included).
        if (p == end) {
            line = end;
        } else if (*p == '\n') {
            line = p + 1;
        } else if (*p == '\r' && p + 1 == end) {
            line = end;
        } else if (*p == '\r' && p[1] == '\n') {
            line = p + 2;
        } else {
            break;
        }
        ++rows;
    }
    *cursor = line;
    return rows;
}

#if defined(__x86_64__)
// `flatten`: the SSE4.1 number reader is inlined into this copy of the loop (it may not be into the plain one).
__attribute__((target("sse4.1"), flatten)) size_t numberRowsSSE41(
    const char **cursor, const char *end, unsigned char delimiter, size_t columns, size_t labelIndex,
    double *features, double *labels, size_t maximumRows) {
    return numberRows<shortDecimalSSE41>(cursor, end, delimiter, columns, labelIndex, features, labels, maximumRows);
}

/// Set once before main (static initialisation runs single-threaded), read by every call afterwards.
const bool hasSSE41 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.1") != 0;
}();
#endif

}  // namespace

extern "C" size_t cff_parse_number_rows(
    const char **cursor, const char *end, unsigned char delimiter, size_t columns, size_t labelIndex,
    double *features, double *labels, size_t maximumRows) {
#if defined(__x86_64__)
    if (hasSSE41) {
        return numberRowsSSE41(cursor, end, delimiter, columns, labelIndex, features, labels, maximumRows);
    }
#endif
    return numberRows<shortDecimalSWAR>(cursor, end, delimiter, columns, labelIndex, features, labels, maximumRows);
}

extern "C" size_t cff_parse_number_rows_portable(
    const char **cursor, const char *end, unsigned char delimiter, size_t columns, size_t labelIndex,
    double *features, double *labels, size_t maximumRows) {
    return numberRows<shortDecimalSWAR>(cursor, end, delimiter, columns, labelIndex, features, labels, maximumRows);
}
