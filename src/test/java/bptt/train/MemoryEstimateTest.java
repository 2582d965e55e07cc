// MemoryEstimateTest: the estimate is what the model, optimizer and workspace really allocate, and says what fits.
package bptt.train;

import bptt.backend.AbstractBackend;
import bptt.backend.Backend;
import bptt.backend.StagingBuffer;
import bptt.conformance.TestBackends;
import bptt.backend.ref.CpuRefBackend;
import bptt.rnn.ParameterLayout;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.Workspace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryEstimateTest {

    /**
     * Every shape kind: token and dense input, 1–3 layers, full storage, checkpointed, and full
     * storage split across tensors; every output (classes or values, per step or per sequence).
     */
    @ParameterizedTest(name = "{9} {10} V={0} dense={1} H={2} L={3} B={4} T={5} k={6} {7} max tensor {8}")
    @CsvSource({
            "65, false, 32, 1, 8, 64, 0, ADAM, 2147483639, tanh, CLASSES",
            "7, false, 5, 3, 3, 17, 4, ADAGRAD, 2147483639, tanh, CLASSES",
            "3, false, 6, 2, 4, 33, 0, SGD, 600, tanh, CLASSES",
            "9, true, 6, 2, 4, 33, 5, ADAM, 2147483639, tanh, CLASSES",
            "200, false, 16, 2, 1, 1000, 0, SGD, 2147483639, tanh, CLASSES",
            "1000, false, 8, 1, 64, 128, 0, ADAM, 2147483639, tanh, CLASSES",
            "65, false, 32, 2, 8, 64, 0, ADAM, 2147483639, lstm, CLASSES",
            "7, true, 5, 2, 3, 17, 4, SGD, 2147483639, lstm, CLASSES",
            "3, false, 6, 2, 4, 33, 0, SGD, 1500, lstm, CLASSES",
            "65, false, 16, 2, 8, 64, -1, ADAGRAD, 2147483639, gru, CLASSES",
            "9, true, 6, 1, 4, 33, 0, ADAM, 2147483639, gru, CLASSES",
            "3, false, 6, 2, 4, 33, 0, SGD, 1200, gru, CLASSES",
            "3, true, 6, 2, 4, 33, 0, ADAM, 2147483639, tanh, VALUES",
            "5, false, 6, 1, 4, 33, 4, SGD, 2147483639, lstm, VALUES",
            "3, false, 6, 2, 4, 33, 0, SGD, 1200, gru, VALUES",
            "3, true, 6, 2, 4, 33, 0, ADAM, 2147483639, tanh, SEQUENCE_CLASS",
            "9, true, 6, 1, 4, 33, -1, SGD, 2147483639, gru, SEQUENCE_CLASS",
            "4, true, 5, 2, 3, 17, 0, ADAGRAD, 2147483639, lstm, SEQUENCE_VALUES",
            "4, false, 5, 1, 3, 17, 4, SGD, 2147483639, tanh, SEQUENCE_VALUES"})
    void theEstimateIsExactlyWhatIsAllocated(int v, boolean dense, int h, int layers, int batch, int seqLen, int k,
                                             Optimizer.Kind kind, long maxTensor, String cell, String output) {
        RnnConfig config = (dense ? new RnnConfig(v, false, h, layers, v) : RnnConfig.charModel(v, h, layers))
                .withCell(bptt.rnn.Cell.parse(cell))
                .withOutput(bptt.rnn.OutputKind.valueOf(output));
        Schedule schedule = new Schedule(k, 0);
        MemoryEstimate e = MemoryEstimate.of(config, batch, seqLen, schedule, kind, maxTensor);
        try (Backend be = CpuRefBackend.float32(maxTensor);
             Rnn rnn = new Rnn(be, config);
             Optimizer optimizer = new Optimizer(be, kind, 0.1f, (int) rnn.layout().total());
             Workspace ws = rnn.workspace(batch, seqLen, schedule)) {
            assertEquals(be.peakAllocatedBytes(), e.backendBytes(), "estimate vs allocation; workspace k = " + ws.checkpointEvery());
            assertEquals(sorted(e, MemoryEstimate.Place.DEVICE), sorted(((AbstractBackend) be).liveAllocationFloats()),
                    "tensor by tensor");
            assertEquals(be.stagingBytes(), e.heapBytes() - stepViews(e), "the window's staging, in Java arrays on cpu-ref");
            assertEquals(rnn.layout().total(), e.parameters());
            if (maxTensor < Integer.MAX_VALUE - 8) {
                assertTrue(k == 0 && ws.segmentSteps() < seqLen, "full storage split across tensors: " + ws.segmentSteps());
            }
            assertTrue(optimizer.state().size() * 4L * e.parameters() == e.optimizerBytes());
        }
    }

    /**
     * On every backend (cpu-ref, cpu, opencl, cuda when present): each device tensor of the plan
     * is an allocation of that many floats, and the window's host staging is what the backend
     * allocated, in the place the plan says; ids in one byte up to V = 128, two above.
     */
    @ParameterizedTest(name = "{0} {1} V={2} dense={3} k={4}")
    @CsvSource({
            "cpu-ref, tanh, 65, false, -1", "cpu-ref, gru, 300, false, 0", "cpu-ref, lstm, 7, true, 3",
            "cpu, tanh, 65, false, -1", "cpu, lstm, 300, false, 5", "cpu, gru, 9, true, 0",
            "opencl, tanh, 65, false, -1", "opencl, lstm, 300, false, 0", "opencl, gru, 9, true, 4",
            "cuda, tanh, 65, false, -1", "cuda, gru, 40000, false, 0", "cuda, lstm, 9, true, 4"})
    void everyTensorAndStagingBufferOfThePlanIsAllocatedOnEachBackend(String backend, String cell, int v, boolean dense,
                                                                       int k) {
        RnnConfig config = (dense ? new RnnConfig(v, false, 6, 2, 5) : RnnConfig.charModel(v, 6, 2))
                .withCell(bptt.rnn.Cell.parse(cell));
        int batch = 3;
        int seqLen = 50;
        Schedule schedule = new Schedule(k, 0);
        try (Backend be = TestBackends.openFresh(backend)) {
            MemoryEstimate e = MemoryEstimate.of(config, batch, seqLen, schedule, Optimizer.Kind.ADAM,
                    MemoryEstimate.Target.of(be));
            List<Long> before = ((AbstractBackend) be).liveAllocationFloats();
            long stagedBefore = be.stagingBytes();
            try (Rnn rnn = new Rnn(be, config);
                 Optimizer optimizer = new Optimizer(be, Optimizer.Kind.ADAM, 0.1f, (int) rnn.layout().total());
                 Workspace ws = rnn.workspace(batch, seqLen, schedule)) {
                List<Long> now = new ArrayList<>(((AbstractBackend) be).liveAllocationFloats());
                for (Long floats : before) {
                    now.remove(floats);
                }
                assertEquals(sorted(e, MemoryEstimate.Place.DEVICE), sorted(now), "device tensors, tensor by tensor");
                MemoryEstimate.Place host = be.stagingLayout().place() == StagingBuffer.Place.JAVA_HEAP
                        ? MemoryEstimate.Place.HEAP : MemoryEstimate.Place.HOST;
                long planned = e.items().stream().filter(i -> i.group().equals("window") && i.place() == host)
                        .mapToLong(MemoryEstimate.Item::bytes).sum();
                assertEquals(planned, be.stagingBytes() - stagedBefore, "host staging");
                long rows = (long) batch * seqLen;
                long idBytes = v <= 128 ? 1 : v <= 32768 ? 2 : 4;
                long inputBytes = dense ? 4L * v : idBytes;
                long targetBytes = dense ? 1 : idBytes;   // dense models here have 5 classes
                assertEquals(rows * (inputBytes + targetBytes), planned, "compact ids: " + inputBytes
                        + " bytes per input row, " + targetBytes + " per target");
                assertTrue(optimizer.state().size() == 2);
            }
        }
    }

    /** A plan's items in one place as one float count per allocation, sorted. */
    private static List<Long> sorted(MemoryEstimate e, MemoryEstimate.Place place) {
        List<Long> list = new ArrayList<>();
        for (MemoryEstimate.Item i : e.items()) {
            if (i.place() == place) {
                for (long c = 0; c < i.count(); c++) {
                    list.add(i.floatsEach());
                }
            }
        }
        Collections.sort(list);
        return list;
    }

    private static List<Long> sorted(List<Long> floats) {
        List<Long> list = new ArrayList<>(floats);
        Collections.sort(list);
        return list;
    }

    private static long stepViews(MemoryEstimate e) {
        return e.items().stream().filter(i -> i.name().startsWith("step views")).mapToLong(MemoryEstimate.Item::bytes).sum();
    }

    @Test
    void parameterCountInClosedFormMatchesTheLayoutAndSaturates() {
        for (RnnConfig c : new RnnConfig[]{RnnConfig.charModel(65, 128, 3), new RnnConfig(7, false, 5, 1, 3),
                RnnConfig.charModel(bptt.rnn.Cell.LSTM, 65, 128, 3), new RnnConfig(7, false, 5, 2, 3, bptt.rnn.Cell.GRU)}) {
            assertEquals(new ParameterLayout(c).total(), ParameterLayout.count(c));
        }
        assertEquals(Long.MAX_VALUE, ParameterLayout.count(new RnnConfig(Integer.MAX_VALUE, false, Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE)));
        assertTimeoutPreemptively(Duration.ofSeconds(2), () -> assertThrows(IllegalArgumentException.class,
                () -> new ParameterLayout(RnnConfig.charModel(65, 128, 2_000_000_000))), "refused before building entries");
    }

    @Test
    void whatFitsIsTheLargestValueOfEachSizeFlag() {
        MemoryEstimate.Sizes sizes = new MemoryEstimate.Sizes(512, 4, 64, 256);
        java.util.function.Function<MemoryEstimate.Sizes, MemoryEstimate> estimate = z -> MemoryEstimate.of(
                RnnConfig.charModel(65, z.hidden(), z.layers()), z.batch(), z.seqLen(), Schedule.full(), Optimizer.Kind.ADAM,
                Integer.MAX_VALUE);
        long available = estimate.apply(sizes).backendBytes() / 2;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MemoryEstimate.requireFits(sizes,
                estimate, Optimizer.Kind.ADAM, "test", available, Integer.MAX_VALUE, Long.MAX_VALUE));
        assertTrue(e.getMessage().contains("Adam state") && e.getMessage().contains("test has"), e.getMessage());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("--hidden (\\d+) or less").matcher(e.getMessage());
        assertTrue(m.find(), e.getMessage());
        int hidden = Integer.parseInt(m.group(1));
        assertTrue(estimate.apply(new MemoryEstimate.Sizes(hidden, 4, 64, 256)).backendBytes() <= available);
        assertTrue(estimate.apply(new MemoryEstimate.Sizes(hidden + 1, 4, 64, 256)).backendBytes() > available);
        MemoryEstimate.requireFits(sizes, estimate, Optimizer.Kind.ADAM, "test", available * 2, Integer.MAX_VALUE, Long.MAX_VALUE);
    }
}
