// Compare: judges a backend's outputs against cpu-ref's (NaN always fails, Inf first, then tolerance) and checks bitwise repeats.
package bptt.conformance;

import java.util.ArrayList;
import java.util.List;

/** The comparison rules shared by the conformance command and the JUnit tests. */
public final class Compare {
    /** How many failing elements a result lists. */
    public static final int SHOWN = 5;

    private Compare() { }

    /** Outputs of the backend under test against cpu-ref's, output by output, element by element. */
    public static Result against(String backend, Check check, long seed, List<Output> got, List<Output> ref) {
        List<String> mismatches = new ArrayList<>();
        double maxAbs = 0;
        double maxRel = 0;
        boolean pass = true;
        if (got.size() != ref.size()) {
            return new Result(backend, check.name(), check.shape(), seed, Double.NaN, Double.NaN, false,
                    List.of("produced " + got.size() + " outputs, cpu-ref " + ref.size()));
        }
        for (int o = 0; o < got.size(); o++) {
            Output g = got.get(o);
            Output r = ref.get(o);
            if (g.values().length != r.values().length) {
                mismatches.add(g.name() + ": " + g.values().length + " values, cpu-ref has " + r.values().length);
                pass = false;
                continue;
            }
            double maxRef = 0;
            for (float v : r.values()) {
                if (Float.isFinite(v)) {
                    maxRef = Math.max(maxRef, Math.abs(v));
                }
            }
            Tolerance tol = r.tolerance();
            double atol = tol.absoluteFor(maxRef);
            float[] gv = g.values();
            float[] rv = r.values();
            List<String> nonFinite = new ArrayList<>();
            List<String> outside = new ArrayList<>();
            for (int i = 0; i < gv.length; i++) {
                float x = gv[i];
                float y = rv[i];
                if (!Float.isFinite(x) || !Float.isFinite(y)) {
                    // NaN never passes, not even against NaN: outputs start as NaN, so NaN on both
                    // sides may be an element neither backend wrote. Equal infinities do pass.
                    boolean same = !Float.isNaN(x) && x == y;
                    if (!same) {
                        maxAbs = Double.NaN;
                        maxRel = Double.NaN;
                        if (nonFinite.size() < SHOWN) {
                            nonFinite.add(g.name() + "[" + i + "]: got " + x + ", cpu-ref " + y + (Float.isNaN(x) && Float.isNaN(y)
                                    ? " (NaN on both sides: an element neither wrote, or both computed NaN)" : " (not finite)"));
                        }
                    }
                    continue;
                }
                double diff = Math.abs((double) x - y);
                double rel = diff == 0 ? 0 : diff / Math.max(Math.abs(y), atol > 0 ? atol : Double.MIN_NORMAL);
                maxAbs = Math.max(maxAbs, diff);
                maxRel = Math.max(maxRel, rel);
                double allowed = atol + tol.rtol() * Math.abs(y);
                if (diff > allowed && outside.size() < SHOWN) {
                    outside.add(String.format("%s[%d]: got %.9g, cpu-ref %.9g, |diff| %.3g > %.3g (%s)",
                            g.name(), i, x, y, diff, allowed, tol));
                }
            }
            if (!nonFinite.isEmpty() || !outside.isEmpty()) {
                pass = false;
                List<String> firstFirst = new ArrayList<>(nonFinite);
                firstFirst.addAll(outside);
                for (String line : firstFirst) {
                    if (mismatches.size() < SHOWN) {
                        mismatches.add(line);
                    }
                }
            }
        }
        return new Result(backend, check.name(), check.shape(), seed, maxAbs, maxRel, pass, mismatches);
    }

    /** Two runs of the same check on the same backend: every bit must agree. */
    public static Result repeat(String backend, Check check, long seed, List<Output> first, List<Output> second) {
        List<String> mismatches = new ArrayList<>();
        double maxAbs = 0;
        for (int o = 0; o < Math.min(first.size(), second.size()); o++) {
            float[] a = first.get(o).values();
            float[] b = second.get(o).values();
            for (int i = 0; i < Math.min(a.length, b.length); i++) {
                if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) {
                    maxAbs = Math.max(maxAbs, Math.abs((double) a[i] - b[i]));
                    if (mismatches.size() < SHOWN) {
                        mismatches.add(String.format("%s[%d]: run 1 gave %.9g, run 2 gave %.9g (not bitwise equal)",
                                first.get(o).name(), i, a[i], b[i]));
                    }
                }
            }
            if (a.length != b.length) {
                mismatches.add(first.get(o).name() + ": " + a.length + " vs " + b.length + " values");
            }
        }
        if (first.size() != second.size()) {
            mismatches.add(first.size() + " vs " + second.size() + " outputs");
        }
        return new Result(backend, check.name() + " (repeat)", check.shape(), seed, maxAbs, 0, mismatches.isEmpty(),
                mismatches);
    }

    /** A check that threw: a failure carrying the exception's message. */
    public static Result crashed(String backend, Check check, long seed, RuntimeException e) {
        return new Result(backend, check.name(), check.shape(), seed, Double.NaN, Double.NaN, false,
                List.of("threw " + e));
    }
}
