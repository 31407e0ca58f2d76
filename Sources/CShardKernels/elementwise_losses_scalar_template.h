// The element-wise classification losses one element at a time for one precision (internal; included
// once per precision with S, SCALAR_NAME and the libm functions S_EXP, S_LOG, S_LOG1P bound). The
// formulas and their order of operations are those of CShardKernels.h and ShardLosses
// (Classification.swift); the portable entry points and the AVX2 domain scan use these functions.

/// 1 when (y, p) is outside the domain of `kind` (NaN included).
static inline int SCALAR_NAME(outside)(int kind, S y, S p) {
    const int unit_y = y >= 0 && y <= 1;
    const int unit_p = p >= 0 && p <= 1;
    const int finite_p = p - p == 0;  // inf - inf and NaN - NaN are NaN
    switch (kind) {
    case SHARDTRAIN_LOSS_BCE_PROBABILITY: return !(unit_y && unit_p);
    case SHARDTRAIN_LOSS_BCE_LOGITS: return !unit_y || !finite_p;
    case SHARDTRAIN_LOSS_FOCAL_PROBABILITY: return y * (1 - y) != 0 || !unit_p;
    default: return y * (1 - y) != 0 || !finite_p;
    }
}

typedef struct {
    S low, high, gamma, weight_positive, weight_negative, scale;
    int gamma_code;
} SCALAR_NAME(constants);

/// (q^γ, γ q^(γ-1)) for γ in {0, 1, 2}.
static inline S SCALAR_NAME(focus)(int gamma_code, S miss, S *slope) {
    switch (gamma_code) {
    case 2: *slope = 2 * miss; return miss * miss;
    case 1: *slope = 1; return miss;
    default: *slope = 0; return 1;
    }
}

/// The loss of one element; its scaled derivative goes to *gradient.
static inline S SCALAR_NAME(element)(int kind, S y, S p, const SCALAR_NAME(constants) *c, S *gradient) {
    if (kind == SHARDTRAIN_LOSS_BCE_PROBABILITY || kind == SHARDTRAIN_LOSS_FOCAL_PROBABILITY) {
        const S clipped = p < c->low ? c->low : (p > c->high ? c->high : p);
        const int inside = p >= c->low && p <= c->high;
        const S complement = 1 - clipped;
        if (kind == SHARDTRAIN_LOSS_BCE_PROBABILITY) {
            *gradient = (inside ? (clipped - y) / (clipped * complement) : 0) * c->scale;
            if (y * (1 - y) == 0) return -S_LOG(y * clipped + (1 - y) * complement);
            return -(y * S_LOG(clipped) + (1 - y) * S_LOG(complement));
        }
        const int positive = y == 1;
        const S true_class = positive ? clipped : complement;
        const S miss = positive ? complement : clipped;
        const S cross_entropy = -S_LOG(true_class);
        const S weight = positive ? c->weight_positive : c->weight_negative;
        S slope;
        const S focus = SCALAR_NAME(focus)(c->gamma_code, miss, &slope);
        const S derivative = weight * (slope * cross_entropy + focus / true_class);
        *gradient = (inside ? (positive ? -derivative : derivative) : 0) * c->scale;
        return weight * focus * cross_entropy;
    }
    const S z = p;
    const S decay = S_EXP(-(z < 0 ? -z : z));
    const S cross_entropy = (z > 0 ? z : 0) - y * z + S_LOG1P(decay);
    if (kind == SHARDTRAIN_LOSS_BCE_LOGITS) {
        *gradient = ((z >= 0 ? 1 : decay) / (1 + decay) - y) * c->scale;
        return cross_entropy;
    }
    const S large = 1 / (1 + decay);
    const S small = decay * large;
    const int positive = y == 1;
    const int signed_nonnegative = positive ? z >= 0 : z < 0;
    const S true_class = signed_nonnegative ? large : small;
    const S miss = signed_nonnegative ? small : large;
    const S weight = positive ? c->weight_positive : c->weight_negative;
    S unused_slope;
    const S weighted_focus = weight * SCALAR_NAME(focus)(c->gamma_code, miss, &unused_slope);
    const S derivative = weighted_focus * (c->gamma * true_class * cross_entropy + miss);
    *gradient = (positive ? -derivative : derivative) * c->scale;
    return weighted_focus * cross_entropy;
}

/// The pass of CShardKernels.h one element at a time (same blocks and summation order as the AVX2 pass).
static inline size_t SCALAR_NAME(pass)(const shardtrain_elementwise_params *params, const S *target,
                                       const S *prediction, size_t count, S *loss, S *gradient, S *total) {
    const int gamma_code = shard_focal_gamma_code(params);
    const int focal = params->kind == SHARDTRAIN_LOSS_FOCAL_PROBABILITY || params->kind == SHARDTRAIN_LOSS_FOCAL_LOGITS;
    if (params->kind > SHARDTRAIN_LOSS_FOCAL_LOGITS || (focal && gamma_code < 0)) return SHARDTRAIN_UNSUPPORTED;
    const SCALAR_NAME(constants) c = {
        (S)params->clip_low, (S)params->clip_high, (S)params->gamma, (S)params->weight_positive,
        (S)params->weight_negative, (S)params->gradient_scale, gamma_code,
    };
    const int kind = (int)params->kind;
    S sum = 0;
    for (size_t start = 0; start < count; start += SHARD_LOSS_BLOCK) {
        const size_t end = count - start < SHARD_LOSS_BLOCK ? count : start + SHARD_LOSS_BLOCK;
        const size_t groups_end = start + ((end - start) & ~(size_t)7);
        S lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int outside_any = 0;
        for (size_t i = start; i < end; i++) {
            outside_any |= SCALAR_NAME(outside)(kind, target[i], prediction[i]);
            loss[i] = SCALAR_NAME(element)(kind, target[i], prediction[i], &c, gradient + i);
            lanes[i < groups_end ? (i - start) & 7 : 0] += loss[i];
        }
        if (outside_any) {
            for (size_t i = start; i < end; i++) {
                if (SCALAR_NAME(outside)(kind, target[i], prediction[i])) return i;
            }
        }
        sum += ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    }
    *total = sum;
    return count;
}
