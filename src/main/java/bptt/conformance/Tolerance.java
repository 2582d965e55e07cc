// Tolerance: |got − ref| ≤ atol + rtol·|ref|, with atol optionally a fraction of the reference's largest magnitude.
package bptt.conformance;

/**
 * How close a backend's float32 result must be to cpu-ref's. When {@code scaled} is true the
 * absolute part is {@code atol · max|ref|} of the compared tensor, for results whose magnitude
 * depends on the shape (gradients divided by the number of targets, long dot products).
 */
public record Tolerance(double atol, double rtol, boolean scaled) {
    /** Bitwise-equal results (copies, gathers). */
    public static final Tolerance EXACT = new Tolerance(0, 0, false);

    public static Tolerance of(double atol, double rtol) { return new Tolerance(atol, rtol, false); }

    /** atol is {@code fraction · max|ref|} of the tensor compared. */
    public static Tolerance scaled(double fraction, double rtol) { return new Tolerance(fraction, rtol, true); }

    /** The absolute tolerance for a reference whose largest magnitude is {@code maxRef}. */
    public double absoluteFor(double maxRef) { return scaled ? atol * maxRef : atol; }

    @Override
    public String toString() {
        return "atol=" + (scaled ? atol + "·max|ref|" : String.valueOf(atol)) + " rtol=" + rtol;
    }
}
