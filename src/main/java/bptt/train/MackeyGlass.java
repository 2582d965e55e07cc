// MackeyGlass: the chaotic delay-differential series (τ = 17), generated from a seed: a real-valued long-range forecasting task.
package bptt.train;

import java.util.SplittableRandom;

/**
 * dx/dt = β·x(t−τ) / (1 + x(t−τ)ⁿ) − γ·x(t) with β = 0.2, γ = 0.1, n = 10, τ = 17 (Mackey &amp;
 * Glass 1977; the usual benchmark setting, chaotic for τ ≥ 17). Integrated with the 4th-order
 * Runge–Kutta method at dt = 0.1 (the delayed term held at its grid value), sampled once per time
 * unit after a transient of 500 units, then standardised to mean 0 and standard deviation 1. The
 * seed perturbs the constant initial history x = 1.2, so every seed gives another stretch of the
 * attractor. Forecasting x(t+1) from x(t), x(t−1), … needs x(t−17): a dependency 17 steps back.
 */
public final class MackeyGlass {
    static final double BETA = 0.2;
    static final double GAMMA = 0.1;
    static final int POWER = 10;
    static final int TAU = 17;
    private static final int SUBSTEPS = 10;              // dt = 0.1
    private static final int TRANSIENT = 500;

    private MackeyGlass() { }

    /** {@code length} standardised samples, one per time unit. */
    public static float[] series(int length, long seed) {
        if (length < 2) {
            throw new IllegalArgumentException("a Mackey-Glass series needs at least 2 samples, got " + length);
        }
        double dt = 1.0 / SUBSTEPS;
        int delay = TAU * SUBSTEPS;
        int total = (TRANSIENT + length) * SUBSTEPS;
        double[] x = new double[delay + total + 1];
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i <= delay; i++) {
            x[i] = 1.2 + 0.02 * (random.nextDouble() - 0.5);
        }
        for (int i = delay; i < delay + total; i++) {
            double lagged = x[i - delay];
            double laggedNext = x[i - delay + 1];
            double laggedMid = 0.5 * (lagged + laggedNext);
            double k1 = slope(x[i], lagged);
            double k2 = slope(x[i] + dt / 2 * k1, laggedMid);
            double k3 = slope(x[i] + dt / 2 * k2, laggedMid);
            double k4 = slope(x[i] + dt * k3, laggedNext);
            x[i + 1] = x[i] + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
        }
        double[] samples = new double[length];
        double mean = 0;
        for (int t = 0; t < length; t++) {
            samples[t] = x[delay + (TRANSIENT + t + 1) * SUBSTEPS];
            mean += samples[t];
        }
        mean /= length;
        double var = 0;
        for (double v : samples) {
            var += (v - mean) * (v - mean);
        }
        double std = Math.sqrt(var / length);
        float[] out = new float[length];
        for (int t = 0; t < length; t++) {
            out[t] = (float) ((samples[t] - mean) / std);
        }
        return out;
    }

    private static double slope(double now, double lagged) {
        return BETA * lagged / (1 + Math.pow(lagged, POWER)) - GAMMA * now;
    }
}
