// TimeStepLaunchCountTest: on cuda (emulated) and opencl (PoCL), counted launches show a time step is at most 2 launches each way.
package bptt.backend;

import bptt.conformance.TestBackends;
import bptt.rnn.Cell;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.WindowFill;
import bptt.rnn.Workspace;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reads the device backends' own launch counters ({@link LaunchCounters}: every kernel and GEMM
 * they issue), not a model of them. Two views of the same claim, for every cell:
 * <ul>
 *   <li>each step op (one time step of one layer, forward or backward) makes exactly 2 launches,
 *       the recurrent GEMM and one fused kernel;</li>
 *   <li>a whole forward + backward pass of the {@link Workspace} over 2T steps issues exactly
 *       4·L·T launches more than over T steps (one output chunk each, so everything outside the
 *       recurrence is launched equally often): nothing else runs per time step.</li>
 * </ul>
 */
class TimeStepLaunchCountTest {
    private static final int B = 3;
    private static final int H = 5;
    private static final int V = 7;
    private static final int LAYERS = 2;

    @AfterAll
    static void close() { TestBackends.closeAll(); }

    private static LaunchCounters counters(Backend be) {
        assertTrue(be instanceof LaunchCounters, be.name() + " counts its launches");
        return (LaunchCounters) be;
    }

    /** Device and host launches {@code op} makes. */
    private static long[] launches(Backend be, Runnable op) {
        LaunchCounters c = counters(be);
        long device = c.deviceLaunches();
        long host = c.hostLaunches();
        op.run();
        be.synchronize();
        return new long[]{c.deviceLaunches() - device, c.hostLaunches() - host};
    }

    @ParameterizedTest
    @ValueSource(strings = {"cuda", "opencl"})
    void everyStepOpIsTwoLaunches(String backend) {
        Backend be = TestBackends.open(backend);
        try (StepOps steps = new StepOps(be, B, H)) {
            assertEquals(6, steps.ops.size(), "every cell's step op, forward and backward");
            steps.ops.forEach((name, op) -> {
                long[] n = launches(be, op);
                assertEquals(2, n[0], be.name() + " " + name + ": kernels and GEMMs the device runs");
                assertEquals(2, n[1], be.name() + " " + name + ": launch calls the host makes");
            });
        }
    }

    /** Launches of a forward and of a backward pass over T steps (one output chunk), and the ops each called. */
    private record Pass(long forward, long backward, Map<String, Long> ops) { }

    private static Pass pass(Backend be, Cell cell, int seqLen) {
        RnnConfig cfg = RnnConfig.charModel(cell, V, H, LAYERS);
        ProfilingBackend profiled = new ProfilingBackend(be);
        try (Rnn rnn = new Rnn(profiled, cfg); Workspace ws = rnn.workspace(B, seqLen, new Schedule(0, seqLen))) {
            rnn.initialize(3);
            SplittableRandom random = new SplittableRandom(5);
            float[] ids = new float[B * seqLen];
            float[] targets = new float[B * seqLen];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(V);
                targets[i] = random.nextInt(V);
            }
            WindowFill.fill(ws, ids, targets);
            profiled.reset();
            long forward = launches(be, ws::forward)[0];
            long backward = launches(be, ws::backward)[0];
            Map<String, Long> ops = new TreeMap<>();
            profiled.entries().forEach(e -> ops.put(e.op(), e.calls()));
            return new Pass(forward, backward, ops);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cuda", "opencl"})
    void aTimeStepAddsTwoLaunchesForwardAndTwoBackwardPerLayer(String backend) {
        Backend be = TestBackends.open(backend);
        int t = 4;
        for (Cell cell : Cell.values()) {
            Pass one = pass(be, cell, t);
            Pass two = pass(be, cell, 2 * t);
            String what = backend + " " + cell.option() + ", T=" + t + " and " + 2 * t + ": ";
            assertEquals(2L * LAYERS * t, two.forward() - one.forward(), what + "forward launches per time step · L · T");
            assertEquals(2L * LAYERS * t, two.backward() - one.backward(), what + "backward launches per time step · L · T");
            String forwardOp = cell.option() + "StepForward";
            String backwardOp = cell.option() + "StepBackward";
            assertEquals((long) LAYERS * 2 * t, two.ops().get(forwardOp), what + forwardOp + " once per step and layer");
            assertEquals((long) LAYERS * 2 * t, two.ops().get(backwardOp), what + backwardOp + " once per step and layer");
        }
    }
}
