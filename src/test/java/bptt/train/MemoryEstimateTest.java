// MemoryEstimateTest: the estimate is what the model, optimizer and workspace really allocate, and says what fits.
package bptt.train;

import bptt.backend.Backend;
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
            assertEquals(rnn.layout().total(), e.parameters());
            if (maxTensor < Integer.MAX_VALUE - 8) {
                assertTrue(k == 0 && ws.segmentSteps() < seqLen, "full storage split across tensors: " + ws.segmentSteps());
            }
            assertTrue(optimizer.state().size() * 4L * e.parameters() == e.optimizerBytes());
        }
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
