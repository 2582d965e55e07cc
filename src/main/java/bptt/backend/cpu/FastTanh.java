// FastTanh: float tanh as a clamped rational function, written so C2 can vectorise the loop.
package bptt.backend.cpu;

/**
 * tanh(x) ≈ x·(P(x²)/Q(x²)) with x clamped to [-7.905, 7.905] (Eigen's float minimax fit), where
 * the fit reaches ±1. Relative error against tanh at most {@link #MAX_RELATIVE_ERROR} for every
 * float, subnormals included (FastTanhTest checks all subnormals and a dense sweep of the rest;
 * an exhaustive run over all 2^31 positive floats measured 3.4e-7, at 5.758). Multiplying x by
 * the ratio last keeps tiny and subnormal x exact to a few ulps: the ratio is ≈ 1 there, where
 * x·P would underflow. NaN stays NaN, ±∞ gives ±1 (within the bound). Branch-free min/max,
 * multiply, add and divide only (no fused multiply-add, which Java never contracts to), so C2
 * vectorises a loop of it and {@link VectorKernels#tanh} computes bitwise the same values.
 */
final class FastTanh {
    private FastTanh() { }

    /** The bound FastTanhTest holds every float to, and the README states. */
    static final double MAX_RELATIVE_ERROR = 4e-7;

    static final float CLAMP = 7.90531110763549805f;
    static final float A1 = 4.89352455891786e-03f;
    static final float A3 = 6.37261928875436e-04f;
    static final float A5 = 1.48572235717979e-05f;
    static final float A7 = 5.12229709037114e-08f;
    static final float A9 = -8.60467152213735e-11f;
    static final float A11 = 2.00018790482477e-13f;
    static final float A13 = -2.76076847742355e-16f;
    static final float B0 = 4.89352518554385e-03f;
    static final float B2 = 2.26843463243900e-03f;
    static final float B4 = 1.18534705686654e-04f;
    static final float B6 = 1.19825839466702e-06f;

    static float tanh(float v) {
        float x = Math.max(-CLAMP, Math.min(CLAMP, v));
        float x2 = x * x;
        float p = x2 * A13 + A11;
        p = x2 * p + A9;
        p = x2 * p + A7;
        p = x2 * p + A5;
        p = x2 * p + A3;
        p = x2 * p + A1;
        float q = x2 * B6 + B4;
        q = x2 * q + B2;
        q = x2 * q + B0;
        return x * (p / q);
    }
}
