// Result: the verdict of one check on one backend: max errors, pass/fail and the first mismatches.
package bptt.conformance;

import java.util.List;

/**
 * @param maxAbs     the largest |got − ref| over all outputs (NaN when a value was not finite)
 * @param maxRel     the largest |got − ref| / max(|ref|, atol) over all outputs
 * @param mismatches the first failing elements, one line each with output name and index
 */
public record Result(String backend, String check, String shape, long seed, double maxAbs, double maxRel,
                     boolean pass, List<String> mismatches) {

    /** A multi-line account of a failure, naming the seed that reproduces it. */
    public String report() {
        StringBuilder s = new StringBuilder();
        s.append(backend).append(' ').append(check).append(' ').append(shape).append(": ")
                .append(pass ? "pass" : "FAIL").append(String.format(" (max abs err %.3g, max rel err %.3g, seed %d)",
                        maxAbs, maxRel, seed));
        for (String m : mismatches) {
            s.append("\n  ").append(m);
        }
        return s.toString();
    }
}
