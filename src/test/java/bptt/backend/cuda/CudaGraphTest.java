// CudaGraphTest: training steps replayed as one CUDA graph give bitwise the eager steps' results, and a diverged step changes nothing.
package bptt.backend.cuda;

import bptt.backend.Backend;
import bptt.backend.DeviceSteps;
import bptt.backend.LaunchCounters;
import bptt.rnn.Cell;
import bptt.rnn.Schedule;
import bptt.train.Corpus;
import bptt.train.Optimizer;
import bptt.train.TrainSettings;
import bptt.train.Trainer;
import bptt.train.TrainingDivergedException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Under the emulator, which records a capture and replays it on the values memory holds at each
 * launch: every window brings new inputs and targets (uploaded before the launch) and Adam's
 * bias corrections change every step (copied in by the graph from a pinned staging buffer), so a
 * graph that replayed stale inputs or scalars would give other losses than the eager run.
 */
class CudaGraphTest {
    @TempDir
    Path dir;

    private Corpus corpus;

    @BeforeEach
    void corpus() throws IOException {
        EmulatedDevices.require();
        corpus = Corpus.load(Files.writeString(dir.resolve("t.txt"), "the quick brown fox jumps over the lazy dog; "
                .repeat(5)), 0.1);
    }

    private static TrainSettings settings(Cell cell, Optimizer.Kind optimizer, float lr, int steps) {
        return new TrainSettings(12, 2, 3, 7, steps, lr, optimizer, 1f, 3, 0.1, 0, 0, 0, cell);
    }

    /** What a run gives: per-step losses and gradient norms, the final weights, and the launch counters' growth. */
    private record Run(List<Double> losses, List<Double> norms, float[] params, long deviceLaunches,
                       long hostLaunches) { }

    private Run train(boolean graphs, TrainSettings settings, Schedule schedule) {
        try (Backend be = CudaBackend.open(EmulatedDevices.SM_86)) {
            ((DeviceSteps) be).useGraphs(graphs);
            LaunchCounters counters = (LaunchCounters) be;
            try (Trainer t = new Trainer(be, corpus, settings, schedule)) {
                List<Double> losses = new ArrayList<>();
                List<Double> norms = new ArrayList<>();
                long device = counters.deviceLaunches();
                long host = counters.hostLaunches();
                while (t.step() < settings.steps()) {
                    losses.add(t.trainStep());
                    norms.add(t.lastGradNorm());
                }
                return new Run(losses, norms, be.download(t.rnn().params()), counters.deviceLaunches() - device,
                        counters.hostLaunches() - host);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1} checkpoint-every {2}")
    @CsvSource({"tanh, adam, 0", "lstm, sgd, 3", "gru, adagrad, 0"})
    void graphStepsAreBitwiseTheEagerSteps(String cell, String optimizer, int checkpointEvery) {
        int steps = 30;  // more than an epoch of 3 streams × 7 steps: the state is reset and carried across graphs
        TrainSettings s = settings(Cell.parse(cell), Optimizer.parseKind(optimizer), 0.01f, steps);
        Schedule schedule = new Schedule(checkpointEvery, 0);
        Run eager = train(false, s, schedule);
        Run graphs = train(true, s, schedule);
        assertEquals(eager.losses(), graphs.losses(), "per-step losses");
        assertEquals(eager.norms(), graphs.norms(), "per-step gradient norms");
        assertArrayEquals(eager.params(), graphs.params(), "final weights, bit for bit");
        assertEquals(eager.deviceLaunches(), graphs.deviceLaunches(), "the graphs run the same kernels and GEMMs");
        long eagerPerStep = eager.hostLaunches() / steps;
        long graphPerStep = graphs.hostLaunches() / steps;
        assertTrue(eagerPerStep > 50 && graphPerStep * 10 < eagerPerStep, "host launches per step: eager "
                + eagerPerStep + ", with graphs " + graphPerStep);
    }

    /**
     * With graphs on, a step runs eagerly the first time, is recorded the second, and from then
     * on is one host launch call (cuGraphLaunch) that runs as many kernels and GEMMs as an eager
     * step launches one by one; outside the graph the trainer carries the state into the next
     * window, one copy per layer (GRU: h only). The README's "1 + L host calls per step".
     */
    @Test
    void aReplayedStepIsOneHostLaunchOfEveryKernel() {
        TrainSettings s = settings(Cell.GRU, Optimizer.Kind.ADAM, 0.01f, 10);
        try (Backend be = CudaBackend.open(EmulatedDevices.SM_86);
             Trainer t = new Trainer(be, corpus, s, Schedule.full())) {
            LaunchCounters counters = (LaunchCounters) be;
            ((DeviceSteps) be).useGraphs(false);
            stepLaunches(t, counters);                  // the first window also resets the state
            long[] eager = stepLaunches(t, counters);
            ((DeviceSteps) be).useGraphs(true);
            stepLaunches(t, counters);                  // eager, the first time a step is seen
            stepLaunches(t, counters);                  // recorded, then launched
            for (int i = 0; i < 3; i++) {
                long[] replay = stepLaunches(t, counters);
                assertTrue(t.window() > 0, "no epoch ends within these steps (the state is carried, not reset)");
                assertEquals(1 + s.layers(), replay[1], "host launch calls of a replayed step and its state carry");
                assertEquals(eager[0], replay[0], "kernels and GEMMs a replayed step and its carry run");
                assertEquals(eager[0], eager[1], "an eager step launches each of them from the host");
            }
        }
    }

    /** {device launches, host launch calls} of one training step. */
    private static long[] stepLaunches(Trainer t, LaunchCounters counters) {
        long device = counters.deviceLaunches();
        long host = counters.hostLaunches();
        t.trainStep();
        return new long[]{counters.deviceLaunches() - device, counters.hostLaunches() - host};
    }

    /**
     * A replayed step whose loss overflows is reported as diverged and changes no weight: the
     * device saw the non-finite sums and skipped the update.
     */
    @Test
    void aDivergedReplayedStepChangesNothing() {
        TrainSettings s = settings(Cell.TANH, Optimizer.Kind.ADAM, 0.01f, 20);
        try (Backend be = CudaBackend.open(EmulatedDevices.SM_86);
             Trainer t = new Trainer(be, corpus, s, Schedule.full())) {
            for (int i = 0; i < 3; i++) {
                t.trainStep();          // eager, then recorded and launched, then replayed
            }
            float[] huge = be.download(t.rnn().params());
            Arrays.fill(huge, 3e38f);
            be.upload(huge, t.rnn().params());
            float[] m = be.download(t.optimizer().state().get("optim.m"));
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t::trainStep);
            assertTrue(e.getMessage().startsWith("training diverged at step 4: the loss is"), e.getMessage());
            assertArrayEquals(huge, be.download(t.rnn().params()), "the diverged step updated no weight");
            assertArrayEquals(m, be.download(t.optimizer().state().get("optim.m")), "nor Adam's moments");
            assertEquals(3, t.optimizer().steps(), "nor the update count");
        }
    }
}
