// LaunchConfigTest: every kernel's launch covers its elements exactly once; oversized launches are refused clearly.
package bptt.backend.cuda;

import bptt.backend.KernelSource;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class LaunchConfigTest {
    private static final LaunchConfig.Limits TYPICAL = LaunchConfig.Limits.TYPICAL;

    /** Sizes of one launch: rows, cols (n = rows·cols for elementwise kernels). */
    record Sizes(int rows, int cols) {
        long n() { return (long) rows * cols; }
    }

    /**
     * Per kernel: the bound its body checks GLOBAL_ID() against (as written in the source), the
     * value of that bound for given sizes, and the launch the backend makes for those sizes.
     */
    record Kernel(String bound, Function<Sizes, Long> boundValue, Function<Sizes, LaunchConfig> launch) { }

    private static Map<String, Kernel> kernels(LaunchConfig.Limits lim) {
        Map<String, Kernel> k = new LinkedHashMap<>();
        for (String name : new String[] {"fill", "copy", "axpy", "scale", "tanh_backward", "tanh_cell_backward",
                "sgd_update", "adam_update", "adagrad_update", "upload_staged"}) {
            k.put(name, new Kernel("n", Sizes::n, s -> LaunchConfig.elementwise(name, s.n(), lim)));
        }
        k.put("bias_tanh", new Kernel("rows * cols", Sizes::n, s -> LaunchConfig.biasTanh(s.rows(), s.cols(), lim)));
        for (String name : new String[] {"lstm_cell_forward", "lstm_cell_backward", "gru_cell_forward",
                "gru_cell_backward"}) {
            k.put(name, new Kernel("rows * hidden", Sizes::n, s -> LaunchConfig.cell(name, s.rows(), s.cols(), lim)));
        }
        k.put("sum_rows", new Kernel("cols", s -> (long) s.cols(), s -> LaunchConfig.sumRows(s.cols(), lim)));
        k.put("softmax_cross_entropy", new Kernel("rows", s -> (long) s.rows(),
                s -> LaunchConfig.softmaxCrossEntropy(s.rows(), lim)));
        k.put("mean_squared_error", new Kernel("rows", s -> (long) s.rows(),
                s -> LaunchConfig.meanSquaredError(s.rows(), lim)));
        k.put("gather_columns", new Kernel("rows * hidden", Sizes::n,
                s -> LaunchConfig.gatherColumns(s.rows(), s.cols(), lim)));
        k.put("scatter_add_columns", new Kernel("hidden", s -> (long) s.cols(),
                s -> LaunchConfig.scatterAddColumns(s.cols(), lim)));
        k.put("sum_of_squares", new Kernel("parts", s -> (long) LaunchConfig.sumOfSquaresParts(s.n()),
                s -> LaunchConfig.sumOfSquares(s.n(), lim)));
        k.put("sum_of_squares_final", new Kernel("1", s -> 1L, s -> LaunchConfig.sumOfSquaresFinal(lim)));
        return k;
    }

    private static final Pattern BOUND = Pattern.compile(
            "KERNEL\\s+void\\s+(\\w+)\\s*\\([^)]*\\)\\s*\\{\\s*const int (\\w+) = GLOBAL_ID\\(\\);\\s*if \\(\\2 >= ([^)]+)\\) return;");
    private static final Pattern SINGLE = Pattern.compile(
            "KERNEL\\s+void\\s+(\\w+)\\s*\\([^)]*\\)\\s*\\{\\s*if \\(GLOBAL_ID\\(\\) != 0\\) return;");

    /** The launch table matches the kernels as written: same names, and each bound is the one the body checks. */
    @Test
    void everyKernelHasALaunchWhoseThreadCountIsTheBoundItsBodyChecks() {
        String src = KernelSource.bodies();
        Map<String, String> bounds = new LinkedHashMap<>();
        Matcher m = BOUND.matcher(src);
        while (m.find()) {
            bounds.put(m.group(1), m.group(3).trim());
        }
        Matcher single = SINGLE.matcher(src);
        while (single.find()) {
            bounds.put(single.group(1), "1");
        }
        Map<String, Kernel> table = kernels(TYPICAL);
        assertEquals(new java.util.TreeSet<>(KernelSource.kernelNames()), new java.util.TreeSet<>(bounds.keySet()),
                "every kernel starts with a GLOBAL_ID() bound check this test can read");
        assertEquals(new java.util.TreeSet<>(bounds.keySet()), new java.util.TreeSet<>(table.keySet()),
                "every kernel in kernels/ has a launch configuration");
        for (Map.Entry<String, String> e : bounds.entrySet()) {
            assertEquals(table.get(e.getKey()).bound(), e.getValue(), "bound of kernel " + e.getKey());
        }
    }

    /** Simulates every thread of the launch as the kernel sees it and counts writes per unit below the bound. */
    private static void assertEachUnitOnce(String kernel, LaunchConfig cfg, long bound) {
        assertEquals(bound, cfg.threads(), kernel + " thread count");
        assertTrue(cfg.block() >= 1 && cfg.block() <= TYPICAL.maxThreadsPerBlock(), cfg.toString());
        if (bound == 0) {
            assertTrue(cfg.isEmpty(), cfg.toString());
            return;
        }
        assertTrue((long) (cfg.grid() - 1) * cfg.block() < bound, "a whole block idles: " + cfg);
        int[] writes = new int[(int) bound];
        for (int b = 0; b < cfg.grid(); b++) {
            for (int t = 0; t < cfg.block(); t++) {
                int gid = (int) ((long) b * cfg.block() + t);  // (int) (blockIdx.x * blockDim.x + threadIdx.x)
                if (gid >= bound) {
                    continue;                                  // if (i >= bound) return;
                }
                if (gid < 0) {
                    fail(cfg + ": thread id overflowed to " + gid + " and passes the bound check");
                }
                writes[gid]++;
            }
        }
        for (int i = 0; i < writes.length; i++) {
            if (writes[i] != 1) {
                fail(cfg + ": unit " + i + " of " + bound + " is written " + writes[i] + " times");
            }
        }
    }

    @Test
    void oddSizesAreCoveredExactlyOnceByEveryKernel() {
        int[] sizes = {1, 2, 3, 17, 31, 32, 33, 65, 255, 256, 257, 1023, 1025, 4099};
        Map<String, Kernel> table = kernels(TYPICAL);
        for (int rows : sizes) {
            for (int cols : new int[] {1, 3, 17, 65, 257}) {
                Sizes s = new Sizes(rows, cols);
                for (Map.Entry<String, Kernel> e : table.entrySet()) {
                    assertEachUnitOnce(e.getKey(), e.getValue().launch().apply(s), e.getValue().boundValue().apply(s));
                }
            }
        }
        assertEachUnitOnce("fill", LaunchConfig.elementwise("fill", 1_000_003, TYPICAL), 1_000_003);
    }

    @Test
    void smallDeviceLimitsAreRespected() {
        LaunchConfig.Limits small = new LaunchConfig.Limits(64, 65535, 16 * 1024);
        LaunchConfig cfg = LaunchConfig.elementwise("axpy", 4099, small);
        assertEquals(64, cfg.block());
        assertEquals(65, cfg.grid());
        LaunchConfig one = LaunchConfig.sumOfSquaresFinal(TYPICAL);
        assertEquals(1, one.grid());
        assertEquals(32, one.block(), "a single thread still launches one warp");
    }

    @Test
    void emptyLaunchesLaunchNothing() {
        assertTrue(LaunchConfig.elementwise("fill", 0, TYPICAL).isEmpty());
        assertTrue(LaunchConfig.sumOfSquares(0, TYPICAL).isEmpty());
        assertFalse(LaunchConfig.sumOfSquaresFinal(TYPICAL).isEmpty(), "the final pass writes 0 for an empty tensor");
    }

    @Test
    void theLargestIntSizedLaunchStillFitsTheKernelsIntIndex() {
        LaunchConfig cfg = LaunchConfig.elementwise("fill", Integer.MAX_VALUE, TYPICAL);
        assertEquals(256, cfg.block());
        assertEquals(8_388_608, cfg.grid());
        assertEquals(Integer.MAX_VALUE, (long) cfg.grid() * cfg.block() - 1, "the last thread id is exactly 2^31-1");
    }

    @Test
    void sizesAbove2To31AreRejectedNamingTheKernel() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LaunchConfig.elementwise("adam_update", 1L << 31, TYPICAL));
        assertTrue(e.getMessage().startsWith("kernel adam_update needs 2147483648 threads"), e.getMessage());
        assertTrue(e.getMessage().contains("2^31-1"), e.getMessage());
        IllegalArgumentException bias = assertThrows(IllegalArgumentException.class,
                () -> LaunchConfig.biasTanh(65536, 32768, TYPICAL));
        assertTrue(bias.getMessage().startsWith("kernel bias_tanh needs 2147483648 threads"), bias.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.gatherColumns(1 << 20, 1 << 12, TYPICAL));
        assertEquals(LaunchConfig.SUM_PARTS, LaunchConfig.sumOfSquares(1L << 40, TYPICAL).threads(),
                "sum_of_squares strides, so its launch does not grow with n");
    }

    @Test
    void roundingUpPastTheIntIndexIsRejected() {
        LaunchConfig.Limits oddBlocks = new LaunchConfig.Limits(1000, Integer.MAX_VALUE, 48 * 1024);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LaunchConfig.plan("copy", Integer.MAX_VALUE, 1000, 0, oddBlocks));
        assertTrue(e.getMessage().contains("overflow the kernels' 32-bit GLOBAL_ID()"), e.getMessage());
    }

    @Test
    void gridAndBlockAndSharedMemoryLimitsAreRejected() {
        LaunchConfig.Limits old = new LaunchConfig.Limits(1024, 65535, 48 * 1024);
        IllegalArgumentException grid = assertThrows(IllegalArgumentException.class,
                () -> LaunchConfig.elementwise("scale", 65535L * 256 + 1, old));
        assertTrue(grid.getMessage().contains("grid limit of 65535 blocks"), grid.getMessage());
        assertEquals(65535, LaunchConfig.elementwise("scale", 65535L * 256, old).grid());
        IllegalArgumentException shared = assertThrows(IllegalArgumentException.class,
                () -> LaunchConfig.plan("sum_rows", 10, 256, 64 * 1024, TYPICAL));
        assertTrue(shared.getMessage().contains("65536 bytes of shared memory"), shared.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.plan("fill", 10, 0, 0, TYPICAL));
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.plan("fill", -1, 256, 0, TYPICAL));
        assertThrows(IllegalArgumentException.class, () -> new LaunchConfig.Limits(0, 1, 0));
    }
}
