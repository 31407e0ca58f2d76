// The AVX2+FMA element-wise classification losses for one precision (internal; included by
// elementwise_losses_avx2.c once per precision with the V_* macros bound to the double or float
// intrinsics). The formulas are the ones of CShardKernels.h and of ShardLosses (Classification.swift),
// evaluated in the same order of operations, with the vector exp/log/log1p of simd_math*.h.

typedef struct {
    V low, high, gamma, weight_positive, weight_negative, scale, negated_weight_positive;
} LOSS_NAME(constants);

/// mask ? when_true : when_false, lane by lane.
SHARD_AVX2_INLINE V LOSS_NAME(select)(V mask, V when_true, V when_false) { return V_BLEND(when_false, when_true, mask); }

SHARD_AVX2_INLINE V LOSS_NAME(negate)(V x) { return V_XOR(x, V_SET1((S)-0.0)); }

/// Lanes where x is not in [0, 1] (NaN included).
SHARD_AVX2_INLINE V LOSS_NAME(outside_unit)(V x) {
    return V_OR(V_CMP(x, V_ZERO(), _CMP_NGE_UQ), V_CMP(x, V_SET1((S)1), _CMP_NLE_UQ));
}

/// Lanes where y (1 - y) != 0, i.e. y is not 0 or 1 (NaN included).
SHARD_AVX2_INLINE V LOSS_NAME(not_binary)(V y) {
    return V_CMP(V_MUL(y, V_SUB(V_SET1((S)1), y)), V_ZERO(), _CMP_NEQ_UQ);
}

/// Lanes where x is NaN or ±inf (x - x is NaN exactly there).
SHARD_AVX2_INLINE V LOSS_NAME(not_finite)(V x) { return V_CMP(V_SUB(x, x), V_ZERO(), _CMP_NEQ_UQ); }

/// The clipped probability, and the lanes where the clip is the identity.
SHARD_AVX2_INLINE V LOSS_NAME(clip)(V p, const LOSS_NAME(constants) *c, V *inside) {
    *inside = V_AND(V_CMP(p, c->low, _CMP_GE_OQ), V_CMP(p, c->high, _CMP_LE_OQ));
    return V_MIN(V_MAX(p, c->low), c->high);
}

SHARD_AVX2_INLINE V LOSS_NAME(bce_probability)(V y, V p, const LOSS_NAME(constants) *c, V *gradient, V *outside) {
    const V one = V_SET1((S)1);
    V inside;
    const V clipped = LOSS_NAME(clip)(p, c, &inside);
    const V complement = V_SUB(one, clipped);
    *gradient = V_MUL(V_AND(inside, V_DIV(V_SUB(clipped, y), V_MUL(clipped, complement))), c->scale);
    *outside = V_OR(LOSS_NAME(outside_unit)(y), LOSS_NAME(outside_unit)(p));
    const V label_complement = V_SUB(one, y);
    // Hard labels need one logarithm: y pc + (1 - y)(1 - pc) is exactly pc or 1 - pc.
    const V hard = V_CMP(V_MUL(y, label_complement), V_ZERO(), _CMP_EQ_OQ);
    if (V_MOVEMASK(hard) == LANE_BITS) {
        return LOSS_NAME(negate)(V_LOG(V_ADD(V_MUL(y, clipped), V_MUL(label_complement, complement))));
    }
    return LOSS_NAME(negate)(V_ADD(V_MUL(y, V_LOG(clipped)), V_MUL(label_complement, V_LOG(complement))));
}

SHARD_AVX2_INLINE V LOSS_NAME(bce_logits)(V y, V z, const LOSS_NAME(constants) *c, V *gradient, V *outside) {
    const V one = V_SET1((S)1), zero = V_ZERO();
    const V decay = V_EXP(V_OR(z, V_SET1((S)-0.0)));  // exp(-|z|)
    // z > 0 ? z : 0 (max returns its second operand for NaN and for -0 vs +0).
    const V positive_part = V_MAX(z, zero);
    const V loss = V_ADD(V_SUB(positive_part, V_MUL(y, z)), V_LOG1P(decay));
    const V sigmoid = V_DIV(LOSS_NAME(select)(V_CMP(z, zero, _CMP_GE_OQ), one, decay), V_ADD(one, decay));
    *gradient = V_MUL(V_SUB(sigmoid, y), c->scale);
    *outside = V_OR(LOSS_NAME(outside_unit)(y), LOSS_NAME(not_finite)(z));
    return loss;
}

/// (q^γ, γ q^(γ-1)) for the supported γ in {0, 1, 2} (`gamma_code` is a compile-time constant).
SHARD_AVX2_INLINE V LOSS_NAME(focus)(const int gamma_code, V miss, V *slope) {
    switch (gamma_code) {
    case 2: *slope = V_MUL(V_SET1((S)2), miss); return V_MUL(miss, miss);
    case 1: *slope = V_SET1((S)1); return miss;
    default: *slope = V_ZERO(); return V_SET1((S)1);
    }
}

SHARD_AVX2_INLINE V LOSS_NAME(focal_probability)(const int gamma_code, V y, V p, const LOSS_NAME(constants) *c,
                                                 V *gradient, V *outside) {
    const V one = V_SET1((S)1);
    V inside;
    const V clipped = LOSS_NAME(clip)(p, c, &inside);
    const V complement = V_SUB(one, clipped);
    const V positive = V_CMP(y, one, _CMP_EQ_OQ);
    const V true_class = LOSS_NAME(select)(positive, clipped, complement);
    const V miss = LOSS_NAME(select)(positive, complement, clipped);
    const V cross_entropy = LOSS_NAME(negate)(V_LOG(true_class));
    const V weight = LOSS_NAME(select)(positive, c->weight_positive, c->weight_negative);
    V slope;
    const V focus = LOSS_NAME(focus)(gamma_code, miss, &slope);
    const V loss = V_MUL(V_MUL(weight, focus), cross_entropy);
    V derivative = V_MUL(weight, V_ADD(V_MUL(slope, cross_entropy), V_DIV(focus, true_class)));
    derivative = V_AND(inside, V_XOR(derivative, V_AND(positive, V_SET1((S)-0.0))));
    *gradient = V_MUL(derivative, c->scale);
    *outside = V_OR(LOSS_NAME(not_binary)(y), LOSS_NAME(outside_unit)(p));
    return loss;
}

SHARD_AVX2_INLINE V LOSS_NAME(focal_logits)(const int gamma_code, V y, V z, const LOSS_NAME(constants) *c,
                                            V *gradient, V *outside) {
    const V one = V_SET1((S)1), zero = V_ZERO();
    const V decay = V_EXP(V_OR(z, V_SET1((S)-0.0)));
    const V positive_part = V_MAX(z, zero);
    const V cross_entropy = V_ADD(V_SUB(positive_part, V_MUL(y, z)), V_LOG1P(decay));
    const V large = V_DIV(one, V_ADD(one, decay));
    const V small = V_MUL(decay, large);
    const V positive = V_CMP(y, one, _CMP_EQ_OQ);
    // sigmoid(s z) is `large` when s z >= 0 (s = +1 for y = 1, -1 for y = 0): y = 1 and z >= 0, or
    // y = 0 and z < 0. (For NaN z every candidate below is NaN, so the choice does not matter.)
    const V signed_nonnegative = V_XOR(positive, V_CMP(z, zero, _CMP_LT_OQ));
    const V true_class = LOSS_NAME(select)(signed_nonnegative, large, small);
    const V miss = LOSS_NAME(select)(signed_nonnegative, small, large);
    // -w+ for y = 1, w- for y = 0: the derivative's sign comes with the weight ((-w) q = -(w q) exactly).
    const V signed_weight = LOSS_NAME(select)(positive, c->negated_weight_positive, c->weight_negative);
    V unused_slope;
    const V focus = LOSS_NAME(focus)(gamma_code, miss, &unused_slope);
    const V signed_weighted_focus = V_MUL(signed_weight, focus);
    const V loss = V_MUL(V_ANDNOT(V_SET1((S)-0.0), signed_weighted_focus), cross_entropy);
    const V derivative = V_MUL(signed_weighted_focus, V_ADD(V_MUL(V_MUL(c->gamma, true_class), cross_entropy), miss));
    *gradient = V_MUL(derivative, c->scale);
    // y (1 - y) != 0 exactly when y is neither 0 nor 1 (NaN included); z must be finite.
    *outside = V_OR(V_ANDNOT(positive, V_CMP(y, zero, _CMP_NEQ_UQ)), LOSS_NAME(not_finite)(z));
    return loss;
}

SHARD_AVX2_INLINE V LOSS_NAME(vector)(const int kind, const int gamma_code, V y, V p, const LOSS_NAME(constants) *c,
                                      V *gradient, V *outside) {
    switch (kind) {
    case SHARDTRAIN_LOSS_BCE_PROBABILITY: return LOSS_NAME(bce_probability)(y, p, c, gradient, outside);
    case SHARDTRAIN_LOSS_BCE_LOGITS: return LOSS_NAME(bce_logits)(y, p, c, gradient, outside);
    case SHARDTRAIN_LOSS_FOCAL_PROBABILITY: return LOSS_NAME(focal_probability)(gamma_code, y, p, c, gradient, outside);
    default: return LOSS_NAME(focal_logits)(gamma_code, y, p, c, gradient, outside);
    }
}

/// The pass of CShardKernels.h for one (kind, γ) pair, both compile-time constants after inlining.
SHARD_AVX2_INLINE size_t LOSS_NAME(pass)(const int kind, const int gamma_code, const LOSS_NAME(constants) *c,
                                         const S *target, const S *prediction, size_t count, S *loss, S *gradient,
                                         S *total) {
    S sum = 0;
    for (size_t start = 0; start < count; start += SHARD_LOSS_BLOCK) {
        const size_t end = count - start < SHARD_LOSS_BLOCK ? count : start + SHARD_LOSS_BLOCK;
        const size_t groups_end = start + ((end - start) & ~(size_t)7);
        V accumulator[VECTORS_PER_GROUP];
        for (int v = 0; v < VECTORS_PER_GROUP; v++) accumulator[v] = V_ZERO();
        V outside_any = V_ZERO();
        for (size_t i = start; i < groups_end; i += 8) {
            for (int v = 0; v < VECTORS_PER_GROUP; v++) {
                const size_t at = i + (size_t)v * LANES;
                V element_gradient, element_outside;
                const V element_loss = LOSS_NAME(vector)(kind, gamma_code, V_LOADU(target + at), V_LOADU(prediction + at),
                                                         c, &element_gradient, &element_outside);
                V_STOREU(loss + at, element_loss);
                V_STOREU(gradient + at, element_gradient);
                accumulator[v] = V_ADD(accumulator[v], element_loss);
                outside_any = V_OR(outside_any, element_outside);
            }
        }
        S lanes[8];
        for (int v = 0; v < VECTORS_PER_GROUP; v++) V_STOREU(lanes + v * LANES, accumulator[v]);
        // The last count mod 8 elements: padded with (y, p) = (0, 1/2), inside every loss's domain.
        const size_t tail = end - groups_end;
        if (tail) {
            S tail_target[8], tail_prediction[8], tail_loss[8], tail_gradient[8];
            for (size_t k = 0; k < 8; k++) {
                tail_target[k] = k < tail ? target[groups_end + k] : (S)0;
                tail_prediction[k] = k < tail ? prediction[groups_end + k] : (S)0.5;
            }
            for (int v = 0; v < VECTORS_PER_GROUP; v++) {
                V element_gradient, element_outside;
                const V element_loss = LOSS_NAME(vector)(kind, gamma_code, V_LOADU(tail_target + v * LANES),
                                                         V_LOADU(tail_prediction + v * LANES), c, &element_gradient,
                                                         &element_outside);
                V_STOREU(tail_loss + v * LANES, element_loss);
                V_STOREU(tail_gradient + v * LANES, element_gradient);
                outside_any = V_OR(outside_any, element_outside);
            }
            for (size_t k = 0; k < tail; k++) {
                loss[groups_end + k] = tail_loss[k];
                gradient[groups_end + k] = tail_gradient[k];
                lanes[0] += tail_loss[k];
            }
        }
        if (V_MOVEMASK(outside_any)) {
            for (size_t i = start; i < end; i++) {
                if (SCALAR_NAME(outside)(kind, target[i], prediction[i])) return i;
            }
        }
        sum += ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    }
    *total = sum;
    return count;
}

SHARD_AVX2 size_t LOSS_NAME(avx2)(const shardtrain_elementwise_params *params, const S *target, const S *prediction,
                                  size_t count, S *loss, S *gradient, S *total) {
    const LOSS_NAME(constants) c = {
        V_SET1((S)params->clip_low),        V_SET1((S)params->clip_high),       V_SET1((S)params->gamma),
        V_SET1((S)params->weight_positive), V_SET1((S)params->weight_negative), V_SET1((S)params->gradient_scale),
        V_SET1(-(S)params->weight_positive),
    };
    const int gamma_code = shard_focal_gamma_code(params);
    switch (params->kind) {
    case SHARDTRAIN_LOSS_BCE_PROBABILITY:
        return LOSS_NAME(pass)(SHARDTRAIN_LOSS_BCE_PROBABILITY, 0, &c, target, prediction, count, loss, gradient, total);
    case SHARDTRAIN_LOSS_BCE_LOGITS:
        return LOSS_NAME(pass)(SHARDTRAIN_LOSS_BCE_LOGITS, 0, &c, target, prediction, count, loss, gradient, total);
    case SHARDTRAIN_LOSS_FOCAL_PROBABILITY:
        switch (gamma_code) {
        case 0: return LOSS_NAME(pass)(SHARDTRAIN_LOSS_FOCAL_PROBABILITY, 0, &c, target, prediction, count, loss, gradient, total);
        case 1: return LOSS_NAME(pass)(SHARDTRAIN_LOSS_FOCAL_PROBABILITY, 1, &c, target, prediction, count, loss, gradient, total);
        case 2: return LOSS_NAME(pass)(SHARDTRAIN_LOSS_FOCAL_PROBABILITY, 2, &c, target, prediction, count, loss, gradient, total);
        default: return SHARDTRAIN_UNSUPPORTED;
        }
    case SHARDTRAIN_LOSS_FOCAL_LOGITS:
        switch (gamma_code) {
        case 0: return LOSS_NAME(pass)(SHARDTRAIN_LOSS_FOCAL_LOGITS, 0, &c, target, prediction, count, loss, gradient, total);
        case 1: return LOSS_NAME(pass)(SHARDTRAIN_LOSS_FOCAL_LOGITS, 1, &c, target, prediction, count, loss, gradient, total);
        case 2: return LOSS_NAME(pass)(SHARDTRAIN_LOSS_FOCAL_LOGITS, 2, &c, target, prediction, count, loss, gradient, total);
        default: return SHARDTRAIN_UNSUPPORTED;
        }
    }
    return SHARDTRAIN_UNSUPPORTED;
}
