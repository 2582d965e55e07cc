// LaunchConfigTest: every launch's thread count is the bound its kernel checks, covers it exactly once; oversized launches are refused.
package bptt.backend.cuda;

import bptt.backend.KernelCalls;
import bptt.backend.KernelSource;
import bptt.backend.RecordedCalls;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class LaunchConfigTest {
    private static final LaunchConfig.Limits TYPICAL = LaunchConfig.Limits.TYPICAL;

    private static final Pattern BOUND = Pattern.compile("KERNEL\\s+void\\s+(\\w+)\\s*\\([^)]*\\)\\s*\\{\\s*"
            + "const int (\\w+) = GLOBAL_ID\\(\\);\\s*if \\(\\2 >= (.+?)(?: \\|\\|[^;]*)?\\) return;");
    private static final Pattern SINGLE = Pattern.compile(
            "KERNEL\\s+void\\s+(\\w+)\\s*\\([^)]*\\)\\s*\\{\\s*if \\(GLOBAL_ID\\(\\) != 0\\) return;");

    /** Each kernel's bound as its body writes it: the expression GLOBAL_ID() is checked against ("1" for one thread). */
    static Map<String, String> bounds() {
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
        return bounds;
    }

    /** Memory of any size, for tensors that are only described, never touched. */
    private static final DeviceMemory ANY = new DeviceMemory() {
        @Override
        public long capacity() { return Long.MAX_VALUE / 4; }

        @Override
        public Object owner() { return this; }
    };

    private static Tensor t(int rows, int cols) { return new Tensor(ANY, 0, rows, cols, Math.max(1, cols)); }

    /** Every op of KernelCalls on tensors shaped by (rows, cols). */
    private static List<Consumer<KernelCalls>> ops(int rows, int cols) {
        Tensor x = t(rows, cols), bias = t(1, cols), col = t(rows, 1), g4 = t(rows, 4 * cols), g3 = t(rows, 3 * cols);
        Tensor scalars = t(1, KernelCalls.STEP_SCALARS), one = t(1, 1), table = t(cols, rows + 2);
        return List.of(c -> c.fill(x, 1f), c -> c.copy(x, x), c -> c.axpy(1f, x, x), c -> c.scale(2f, x),
                c -> c.biasTanh(x, bias), c -> c.tanhBackward(x, x), c -> c.tanhCellBackward(x, x, x),
                c -> c.lstmCellForward(g4, t(1, 4 * cols), t(1, 4 * cols), x, x, x),
                c -> c.lstmCellBackward(g4, x, x, x, x, x),
                c -> c.gruCellForward(g3, g3, t(1, 3 * cols), t(1, 3 * cols), x, x, x),
                c -> c.gruCellBackward(g3, x, x, x, x, g3), c -> c.sumRows(x, 0.5f, bias),
                c -> c.softmaxCrossEntropy(x, bias, col, 0.5f, x, col), c -> c.meanSquaredError(x, bias, x, col, 0.5f, x, col),
                c -> c.gatherColumns(col, table, x),
                c -> c.scatterAddColumns(col, x, table), c -> c.sumOfSquares(x, one),
                c -> c.setStepScalars(scalars, 1f, 1f, 1f), c -> c.clipScale(x, one, 5f, scalars),
                c -> c.sgdUpdate(x, x, 0.1f, scalars), c -> c.adamUpdate(x, x, x, x, 0.1f, 0.9f, 0.99f, 1e-8f, scalars),
                c -> c.adagradUpdate(x, x, x, 0.1f, 1e-8f, scalars), c -> c.uploadStaged(ANY, x, 2));
    }

    /**
     * For odd shapes, every launch of every op has exactly the thread count its kernel's body
     * checks, evaluated with the very arguments the op passes; every kernel is launched.
     */
    @Test
    void everyLaunchHasTheThreadCountItsKernelChecks() {
        Map<String, String> bounds = bounds();
        assertEquals(new TreeSet<>(KernelSource.kernelNames()), new TreeSet<>(bounds.keySet()),
                "every kernel starts with a GLOBAL_ID() bound check this test can read");
        Map<String, List<KernelCallTest.Param>> sigs = KernelCallTest.signatures();
        TreeSet<String> launched = new TreeSet<>();
        for (int rows : new int[] {1, 3, 17, 33, 65, 257, 4099}) {
            for (int cols : new int[] {1, 5, 65, 257}) {
                for (Consumer<KernelCalls> op : ops(rows, cols)) {
                    for (RecordedCalls.Call call : RecordedCalls.of(op)) {
                        Map<String, Long> ints = new HashMap<>();
                        List<KernelCallTest.Param> params = sigs.get(call.kernel());
                        for (int i = 0; i < params.size(); i++) {
                            ints.put(params.get(i).name(), call.args().get(i).value());
                        }
                        String bound = bounds.get(call.kernel());
                        assertEquals(evaluate(bound, ints), call.threads(), call.kernel() + ": threads vs its bound "
                                + bound + " at rows=" + rows + " cols=" + cols + " " + ints);
                        assertEachUnitOnce(call.kernel(), LaunchConfig.plan(call.kernel(), call.threads(), TYPICAL),
                                call.threads());
                        launched.add(call.kernel());
                    }
                }
            }
        }
        assertEquals(new TreeSet<>(KernelSource.kernelNames()), launched, "every kernel is launched by some op");
    }

    /** The value of an int expression of names, numbers, + - * / and parentheses, as C computes it. */
    static long evaluate(String expression, Map<String, Long> names) {
        return new Object() {
            private int at;

            long sum() {
                long v = product();
                while (peek() == '+' || peek() == '-') {
                    char op = expression.charAt(at++);
                    long w = product();
                    v = op == '+' ? v + w : v - w;
                }
                return v;
            }

            long product() {
                long v = atom();
                while (peek() == '*' || peek() == '/') {
                    char op = expression.charAt(at++);
                    long w = atom();
                    v = op == '*' ? v * w : v / w;
                }
                return v;
            }

            long atom() {
                char c = peek();
                if (c == '(') {
                    at++;
                    long v = sum();
                    peek();
                    at++;
                    return v;
                }
                int start = at;
                while (at < expression.length() && Character.isLetterOrDigit(expression.charAt(at))) {
                    at++;
                }
                String token = expression.substring(start, at);
                if (Character.isDigit(token.charAt(0))) {
                    return Long.parseLong(token);
                }
                Long v = names.get(token);
                if (v == null) {
                    fail("bound '" + expression + "' names " + token + ", which is not an int parameter: " + names);
                }
                return v;
            }

            char peek() {
                while (at < expression.length() && expression.charAt(at) == ' ') {
                    at++;
                }
                return at < expression.length() ? expression.charAt(at) : 0;
            }
        }.sum();
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
    void oddSizesAreCoveredExactlyOnce() {
        assertEachUnitOnce("fill", LaunchConfig.plan("fill", 1_000_003, TYPICAL), 1_000_003);
        assertEachUnitOnce("fill", LaunchConfig.plan("fill", 33, TYPICAL), 33);
    }

    @Test
    void smallDeviceLimitsAreRespected() {
        LaunchConfig.Limits small = new LaunchConfig.Limits(64, 65535, 16 * 1024);
        LaunchConfig cfg = LaunchConfig.plan("axpy", 4099, small);
        assertEquals(64, cfg.block());
        assertEquals(65, cfg.grid());
        LaunchConfig one = LaunchConfig.plan("clip_scale", 1, TYPICAL);
        assertEquals(1, one.grid());
        assertEquals(32, one.block(), "a single thread still launches one warp");
    }

    @Test
    void emptyLaunchesLaunchNothing() {
        assertTrue(LaunchConfig.plan("fill", 0, TYPICAL).isEmpty());
    }

    @Test
    void theLargestIntSizedLaunchStillFitsTheKernelsIntIndex() {
        LaunchConfig cfg = LaunchConfig.plan("fill", Integer.MAX_VALUE, TYPICAL);
        assertEquals(256, cfg.block());
        assertEquals(8_388_608, cfg.grid());
        assertEquals(Integer.MAX_VALUE, (long) cfg.grid() * cfg.block() - 1, "the last thread id is exactly 2^31-1");
    }

    @Test
    void sizesAbove2To31AreRejectedNamingTheKernel() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LaunchConfig.plan("adam_update", 1L << 31, TYPICAL));
        assertTrue(e.getMessage().startsWith("kernel adam_update needs 2147483648 threads"), e.getMessage());
        assertTrue(e.getMessage().contains("2^31-1"), e.getMessage());
        Tensor huge = t(65536, 32768);
        IllegalArgumentException bias = assertThrows(IllegalArgumentException.class,
                () -> RecordedCalls.of(c -> c.biasTanh(huge, t(1, 32768))).forEach(
                        call -> LaunchConfig.plan(call.kernel(), call.threads(), TYPICAL)));
        assertTrue(bias.getMessage().startsWith("kernel bias_tanh needs 2147483648 threads"), bias.getMessage());
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
                () -> LaunchConfig.plan("scale", 65535L * 256 + 1, old));
        assertTrue(grid.getMessage().contains("grid limit of 65535 blocks"), grid.getMessage());
        assertEquals(65535, LaunchConfig.plan("scale", 65535L * 256, old).grid());
        IllegalArgumentException shared = assertThrows(IllegalArgumentException.class,
                () -> LaunchConfig.plan("sum_rows_final", 10, 256, 64 * 1024, TYPICAL));
        assertTrue(shared.getMessage().contains("65536 bytes of shared memory"), shared.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.plan("fill", 10, 0, 0, TYPICAL));
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.plan("fill", -1, 256, 0, TYPICAL));
        assertThrows(IllegalArgumentException.class, () -> new LaunchConfig.Limits(0, 1, 0));
    }
}
