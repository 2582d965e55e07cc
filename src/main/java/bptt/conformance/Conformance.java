// Conformance: runs checks on a backend and on cpu-ref and judges them; the engine behind tests and the command.
package bptt.conformance;

import bptt.backend.Backend;
import bptt.backend.ref.CpuRefBackend;
import bptt.rnn.Cell;
import bptt.rnn.OutputKind;

import java.util.ArrayList;
import java.util.List;

/** The check matrices and the loop that runs them. */
public final class Conformance {
    /** The odd sizes shapes are drawn from. */
    public static final int[] SIZES = {1, 3, 17, 33, 65, 129};

    private Conformance() { }

    /** Runs {@code check} on {@code backend} and on {@code reference} (a float32 cpu-ref) with the same seed. */
    public static Result run(Check check, Backend backend, Backend reference, long seed) {
        List<Output> ref = check.run(reference, seed);
        try {
            return Compare.against(backend.name(), check, seed, check.run(backend, seed), ref);
        } catch (RuntimeException e) {
            return Compare.crashed(backend.name(), check, seed, e);
        }
    }

    /** Runs {@code check} twice on {@code backend}: the outputs must be bitwise equal. */
    public static Result repeat(Check check, Backend backend, long seed) {
        try {
            return Compare.repeat(backend.name(), check, seed, check.run(backend, seed), check.run(backend, seed));
        } catch (RuntimeException e) {
            return Compare.crashed(backend.name(), check, seed, e);
        }
    }

    /** A fresh float32 reference. */
    public static Backend reference() { return CpuRefBackend.float32(); }

    /** Op checks for the tests: every op on six (n, c) pairs covering all of {@link #SIZES}, GEMMs on four shapes. */
    public static List<Check> testOps() {
        List<Check> list = new ArrayList<>();
        int[][] shapes = {{1, 1}, {3, 17}, {17, 33}, {33, 65}, {65, 129}, {129, 3}};
        for (int[] s : shapes) {
            list.addAll(OpChecks.elementwise(s[0], s[1]));
        }
        int[][] gemmShapes = {{1, 1, 1}, {3, 17, 33}, {65, 33, 17}, {17, 129, 65}};
        for (int[] g : gemmShapes) {
            list.addAll(OpChecks.gemms(g[0], g[1], g[2]));
        }
        return list;
    }

    /**
     * Whole-model checks for the tests: token and dense input, 1 and 2 layers, (B, H, V, T) from
     * {@link #SIZES}, for the tanh cell and for LSTM and GRU, full storage and checkpointed.
     */
    public static List<Check> testModels() {
        int[][] shapes = {{3, 17, 33, 17}, {1, 33, 17, 65}, {17, 3, 65, 3}, {33, 65, 129, 1}};
        List<Check> list = new ArrayList<>();
        for (int[] s : shapes) {
            for (boolean token : new boolean[]{true, false}) {
                for (int layers = 1; layers <= 2; layers++) {
                    list.add(new ModelCheck(token, layers, s[0], s[1], s[2], s[3]));
                }
            }
        }
        list.add(new ModelCheck(true, 2, 3, 17, 33, 65, 8));
        list.add(new ModelCheck(false, 1, 17, 33, 17, 33, 5));
        for (Cell cell : new Cell[]{Cell.LSTM, Cell.GRU}) {
            list.add(new ModelCheck(cell, true, 1, 3, 17, 33, 17));
            list.add(new ModelCheck(cell, false, 2, 3, 17, 33, 17));
            list.add(new ModelCheck(cell, true, 2, 1, 33, 17, 65));
            list.add(new ModelCheck(cell, false, 1, 17, 3, 65, 3));
            list.add(new ModelCheck(cell, true, 1, 33, 65, 129, 1));
            list.add(new ModelCheck(cell, true, 2, 3, 17, 33, 65, 8));
            list.add(new ModelCheck(cell, false, 1, 17, 33, 17, 33, 5));
        }
        list.addAll(outputModels());
        return list;
    }

    /**
     * The regression and per-sequence outputs on every cell: values per step (MSE), one class and
     * D_out values per sequence, full storage and checkpointed, token and dense input.
     */
    static List<Check> outputModels() {
        List<Check> list = new ArrayList<>();
        Cell[] cells = Cell.values();
        for (int i = 0; i < cells.length; i++) {
            Cell cell = cells[i];
            list.add(new ModelCheck(cell, false, 2, 3, 17, 5, 33, 0, OutputKind.VALUES));
            list.add(new ModelCheck(cell, i % 2 == 0, 1, 17, 33, 1, 17, 5, OutputKind.VALUES));
            list.add(new ModelCheck(cell, true, 1, 17, 3, 17, 33, 0, OutputKind.SEQUENCE_CLASS));
            list.add(new ModelCheck(cell, false, 2, 3, 17, 5, 65, 8, OutputKind.SEQUENCE_CLASS));
            list.add(new ModelCheck(cell, false, 1, 33, 17, 3, 17, 0, OutputKind.SEQUENCE_VALUES));
            list.add(new ModelCheck(cell, i % 2 == 1, 2, 1, 33, 7, 33, 5, OutputKind.SEQUENCE_VALUES));
        }
        return list;
    }

    /** The command's matrix: the test matrix plus long reductions and sequences up to T = 1000. */
    public static List<Check> fullMatrix() {
        List<Check> list = new ArrayList<>(testOps());
        list.addAll(OpChecks.elementwise(33 * 1000, 65));
        list.addAll(OpChecks.gemms(129, 65, 33 * 1000));
        list.addAll(testModels());
        list.add(new ModelCheck(true, 2, 17, 65, 65, 129));
        list.add(new ModelCheck(true, 1, 33, 129, 65, 1000));
        list.add(new ModelCheck(false, 2, 3, 65, 17, 1000));
        list.add(new ModelCheck(true, 1, 33, 129, 65, 1000, 32));
        for (Cell cell : new Cell[]{Cell.LSTM, Cell.GRU}) {
            list.add(new ModelCheck(cell, true, 2, 17, 65, 65, 129));
            list.add(new ModelCheck(cell, true, 1, 33, 129, 65, 1000));
            list.add(new ModelCheck(cell, true, 1, 33, 129, 65, 1000, 32));
        }
        return list;
    }

    /** The checks that are also repeated for bitwise determinism: models and every reduction. */
    public static List<Check> determinism() {
        List<Check> list = new ArrayList<>();
        list.add(new ModelCheck(true, 2, 17, 33, 65, 33));
        list.add(new ModelCheck(false, 1, 3, 17, 33, 129));
        list.add(new ModelCheck(Cell.LSTM, true, 2, 17, 33, 65, 33));
        list.add(new ModelCheck(Cell.GRU, false, 1, 3, 17, 33, 129));
        list.add(new ModelCheck(Cell.LSTM, false, 1, 17, 33, 5, 65, 0, OutputKind.VALUES));
        list.add(new ModelCheck(Cell.TANH, false, 2, 3, 17, 5, 33, 8, OutputKind.SEQUENCE_CLASS));
        for (Check c : OpChecks.elementwise(3 * 129, 65)) {
            if (c.name().startsWith("sumRows") || c.name().startsWith("softmax") || c.name().startsWith("meanSquared") || c.name().startsWith("scatter")
                    || c.name().startsWith("sumOfSquares")) {
                list.add(c);
            }
        }
        list.add(OpChecks.gemm(true, false, 65, 33, 129 * 3, 0f, 0));
        return list;
    }
}
