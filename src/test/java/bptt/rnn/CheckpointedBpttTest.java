// CheckpointedBpttTest: recomputing segments gives bitwise the gradients of full storage, in less memory.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.backend.ref.CpuRefBackend;
import bptt.conformance.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointedBpttTest {

    /** Loss, gradient slab and every layer's dL/dh0, final state (and c for LSTM) of one forward+backward, as floats. */
    static float[] runOnce(Backend be, RnnConfig cfg, int batch, int seqLen, Schedule schedule, long seed) {
        try (Rnn rnn = new Rnn(be, cfg); Workspace ws = rnn.workspace(batch, seqLen, schedule)) {
            rnn.initialize(seed);
            SplittableRandom random = new SplittableRandom(seed + 1);
            float[] in = new float[batch * seqLen * (cfg.tokenInput() ? 1 : cfg.inputSize())];
            for (int i = 0; i < in.length; i++) {
                in[i] = cfg.tokenInput() ? random.nextInt(cfg.inputSize()) : (float) random.nextDouble(-1, 1);
            }
            float[] tg = new float[batch * seqLen];
            for (int i = 0; i < tg.length; i++) {
                tg[i] = random.nextInt(5) == 0 ? -1 : random.nextInt(cfg.outputSize());
            }
            tg[0] = 0;
            WindowFill.fill(ws, in, tg);
            boolean lstm = cfg.cell().hasCellState();
            for (int l = 0; l < cfg.layers(); l++) {
                be.upload(uniform(random, batch * cfg.hidden()), ws.initialState(l));
                if (lstm) {
                    be.upload(uniform(random, batch * cfg.hidden()), ws.initialCellState(l));
                }
            }
            List<float[]> parts = new ArrayList<>();
            parts.add(new float[]{(float) ws.forward()});
            ws.backward();
            parts.add(be.download(rnn.grads()));
            for (int l = 0; l < cfg.layers(); l++) {
                parts.add(be.download(ws.initialStateGrad(l)));
                parts.add(be.download(ws.finalState(l)));
                if (lstm) {
                    parts.add(be.download(ws.initialCellStateGrad(l)));
                    parts.add(be.download(ws.finalCellState(l)));
                }
            }
            int n = parts.stream().mapToInt(p -> p.length).sum();
            float[] out = new float[n];
            int at = 0;
            for (float[] p : parts) {
                System.arraycopy(p, 0, out, at, p.length);
                at += p.length;
            }
            return out;
        }
    }

    private static float[] uniform(SplittableRandom random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextDouble(-0.5, 0.5);
        }
        return v;
    }

    /**
     * The README's claim at default settings: `--checkpoint-every auto` against full storage with
     * the chunking each picks by itself (T=64, B=8, H=32, V=65), every cell, 1 and 2 layers.
     */
    @ParameterizedTest(name = "{0} {1} L={2}")
    @CsvSource({
            "cpu-ref, tanh, 1", "cpu-ref, lstm, 1", "cpu-ref, gru, 1", "cpu-ref, lstm, 2",
            "cpu, tanh, 1", "cpu, lstm, 1", "cpu, gru, 1", "cpu, gru, 2", "cpu, tanh, 2",
            "cuda, tanh, 1", "cuda, lstm, 2", "cuda, gru, 1",
    })
    void autoCheckpointingIsBitwiseEqualToFullStorageAtDefaultSettings(String backend, String cell, int layers) {
        RnnConfig cfg = RnnConfig.charModel(Cell.parse(cell), 65, 32, layers);
        try (Backend be = TestBackends.openFresh(backend)) {
            float[] full = runOnce(be, cfg, 8, 64, Schedule.parse("0"), 11);
            float[] auto = runOnce(be, cfg, 8, 64, Schedule.parse("auto"), 11);
            try (Rnn rnn = new Rnn(be, cfg); Workspace ws = rnn.workspace(8, 64, Schedule.parse("auto"))) {
                assertTrue(ws.checkpointEvery() > 0 && ws.checkpointEvery() < 64, "auto must checkpoint: k="
                        + ws.checkpointEvery());
            }
            assertArrayEquals(full, auto, "loss, gradients, dh0 (dc0) and final states must be bitwise equal");
        }
    }

    @ParameterizedTest(name = "{0} {1} tokens={2} L={3} B={4} T={5} k={6}")
    @CsvSource({
            "cpu-ref, tanh, true, 1, 3, 17, 4",
            "cpu-ref, lstm, true, 2, 3, 40, 6",
            "cpu-ref, gru, true, 2, 1, 65, 8",
            "cpu-ref, lstm, false, 1, 5, 30, 5",
            "cpu-ref, gru, false, 2, 2, 29, 10",
            "cpu-ref, tanh, true, 3, 2, 21, 10",
            "cpu, tanh, true, 1, 3, 17, 8",
            "cpu, lstm, true, 2, 16, 200, 28",
            "cpu, gru, false, 1, 33, 64, 16",
            "cpu, lstm, false, 2, 2, 29, 5",
            "cuda, tanh, true, 2, 16, 200, 14",
            "cuda, lstm, true, 2, 1, 65, 8",
            "cuda, gru, false, 2, 2, 29, 10",
    })
    void checkpointingEveryMultipleOfTheChunkIsBitwiseEqualToFullStorage(String backend, String cell, boolean tokens,
                                                                         int layers, int batch, int seqLen, int k) {
        RnnConfig cfg = new RnnConfig(tokens ? 11 : 4, tokens, 9, layers, 11, Cell.parse(cell));
        try (Backend be = TestBackends.openFresh(backend)) {
            try (Rnn rnn = new Rnn(be, cfg); Workspace ws = rnn.workspace(batch, seqLen, new Schedule(k, 0))) {
                assertEquals(0, k % ws.chunkSteps(), "k=" + k + " must be a multiple of S=" + ws.chunkSteps());
            }
            float[] full = runOnce(be, cfg, batch, seqLen, Schedule.full(), 5);
            float[] ckpt = runOnce(be, cfg, batch, seqLen, new Schedule(k, 0), 5);
            assertArrayEquals(full, ckpt, "loss, gradients, dh0 and final state must be bitwise equal");
        }
    }

    /** A K that is not a multiple of S cuts chunks at segment ends: the same math, rounded differently. */
    @ParameterizedTest(name = "{0} k={1}")
    @CsvSource({"tanh, 3", "lstm, 7", "gru, 5"})
    void checkpointingAtAnyKMatchesFullStorageWithinRounding(String cell, int k) {
        RnnConfig cfg = RnnConfig.charModel(Cell.parse(cell), 7, 6, 2);
        try (CpuRefBackend be = CpuRefBackend.float32()) {
            float[] full = runOnce(be, cfg, 3, 20, Schedule.full(), 9);
            float[] ckpt = runOnce(be, cfg, 3, 20, new Schedule(k, 0), 9);
            for (int i = 0; i < full.length; i++) {
                assertEquals(full[i], ckpt[i], 1e-5f * (1 + Math.abs(full[i])), "element " + i);
            }
        }
    }

    /** Full storage split into several resident tensors (a backend with small tensors) changes no bit. */
    @ParameterizedTest(name = "{0} tokens={1} L={2} B={3} T={4} max floats {5}")
    @CsvSource({"tanh, true, 1, 3, 40, 400", "tanh, false, 2, 2, 33, 500", "tanh, true, 2, 1, 65, 500",
            "gru, false, 1, 2, 50, 700", "lstm, false, 1, 3, 64, 1000", "lstm, true, 2, 1, 65, 2000"})
    void fullStorageSplitAcrossTensorsIsBitwiseEqual(String cell, boolean tokens, int layers, int batch, int seqLen,
                                                     long maxFloats) {
        RnnConfig cfg = new RnnConfig(tokens ? 11 : 4, tokens, 9, layers, 11, Cell.parse(cell));
        try (CpuRefBackend one = CpuRefBackend.float32(); CpuRefBackend small = CpuRefBackend.float32(maxFloats)) {
            int chunk;
            try (Rnn rnn = new Rnn(one, cfg); Workspace ws = rnn.workspace(batch, seqLen)) {
                chunk = ws.chunkSteps();
            }
            try (Rnn rnn = new Rnn(small, cfg); Workspace ws = rnn.workspace(batch, seqLen)) {
                assertTrue(ws.segmentSteps() < seqLen, "the states must be split, got one segment of " + ws.segmentSteps());
                assertEquals(chunk, ws.chunkSteps(), "splitting must not change the chunk S");
            }
            assertArrayEquals(runOnce(one, cfg, batch, seqLen, Schedule.full(), 4),
                    runOnce(small, cfg, batch, seqLen, Schedule.full(), 4));
        }
    }

    /** The logits buffer respects the backend's tensor limit; a step whose logits cannot fit says to shrink --batch. */
    @Test
    void logitsRespectTheTensorLimitAndOneStepTooManyIsAClearError() {
        RnnConfig cfg = RnnConfig.charModel(50, 4, 1);
        try (CpuRefBackend small = CpuRefBackend.float32(2000); Rnn rnn = new Rnn(small, cfg)) {
            int chunk;
            try (Workspace ws = rnn.workspace(10, 30)) {
                chunk = ws.chunkSteps();
                assertTrue(chunk * 10 * 50 <= 2000, "S=" + chunk);
            }
            assertArrayEquals(runOnce(CpuRefBackend.float32(), cfg, 10, 30, new Schedule(0, chunk), 3),
                    runOnce(small, cfg, 10, 30, Schedule.full(), 3));
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> rnn.workspace(41, 30));
            assertTrue(e.getMessage().contains("logits") && e.getMessage().contains("--batch")
                    && !e.getMessage().contains("--checkpoint-every"), e.getMessage());
        }
    }

    @Test
    void aSegmentLargerThanATensorIsAClearError() {
        RnnConfig cfg = RnnConfig.charModel(5, 10, 1);
        try (CpuRefBackend small = CpuRefBackend.float32(1000); Rnn rnn = new Rnn(small, cfg)) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> rnn.workspace(4, 100, new Schedule(50, 0)));
            assertTrue(e.getMessage().contains("--checkpoint-every 24 or less"), e.getMessage());
        }
    }

    @Test
    void theChunkDoesNotDependOnTheStorageMode() {
        RnnConfig cfg = RnnConfig.charModel(Cell.LSTM, 65, 32, 1);
        try (CpuRefBackend be = CpuRefBackend.float32(); Rnn rnn = new Rnn(be, cfg)) {
            for (int t : new int[]{1, 2, 7, 64, 100, 1000}) {
                try (Workspace full = rnn.workspace(8, t, Schedule.full()); Workspace auto = rnn.workspace(8, t, Schedule.auto())) {
                    assertEquals(Math.max(1, Math.round(Math.sqrt(t))), full.chunkSteps(), "S = round(√T) at T=" + t);
                    assertEquals(full.chunkSteps(), auto.chunkSteps(), "T=" + t);
                    assertEquals(0, auto.segmentSteps() % auto.chunkSteps(), "auto k is a multiple of S at T=" + t);
                }
            }
        }
    }

    /** Full storage reuses the forward pass's dlogits when T steps of logits fit; checkpointing recomputes them. */
    @Test
    void fullStorageComputesTheOutputLayerOnceAndCheckpointingTwice() {
        RnnConfig cfg = RnnConfig.charModel(Cell.GRU, 13, 6, 1);
        for (boolean checkpointed : new boolean[]{false, true}) {
            bptt.backend.ProfilingBackend be = new bptt.backend.ProfilingBackend(CpuRefBackend.float32());
            runOnce(be, cfg, 3, 16, checkpointed ? Schedule.auto() : Schedule.full(), 2);
            long logits = be.entries().stream().filter(e -> e.op().startsWith("gemm NT") && e.op().contains("n=13 "))
                    .mapToLong(bptt.backend.ProfilingBackend.Entry::calls).sum();
            long softmax = be.entries().stream().filter(e -> e.op().equals("softmaxCrossEntropy"))
                    .mapToLong(bptt.backend.ProfilingBackend.Entry::calls).sum();
            int chunks = 16 / 4;   // S = round(√16)
            assertEquals(checkpointed ? 2 * chunks : chunks, logits, "logit GEMMs, checkpointed=" + checkpointed);
            assertEquals(logits, softmax, "one softmax per logit GEMM");
        }
    }

    @Test
    void chunkingTheOutputLayerChangesNothingButRounding() {
        RnnConfig cfg = RnnConfig.charModel(7, 6, 2);
        try (CpuRefBackend be = CpuRefBackend.float32()) {
            float[] oneChunk = runOnce(be, cfg, 3, 20, Schedule.full(), 9);
            float[] chunked = runOnce(be, cfg, 3, 20, new Schedule(0, 3), 9);
            for (int i = 0; i < oneChunk.length; i++) {
                assertEquals(oneChunk[i], chunked[i], 1e-5f * (1 + Math.abs(oneChunk[i])), "element " + i);
            }
        }
    }

    @Test
    void checkpointingKeepsActivationMemorySublinear() {
        RnnConfig cfg = RnnConfig.charModel(10, 32, 1);
        long[] full = new long[2];
        long[] ckpt = new long[2];
        int[] lengths = {400, 1600};
        for (int i = 0; i < lengths.length; i++) {
            try (CpuRefBackend be = CpuRefBackend.float32(); Rnn rnn = new Rnn(be, cfg)) {
                long base = be.allocatedBytes();
                try (Workspace ws = rnn.workspace(4, lengths[i], Schedule.full())) {
                    full[i] = be.allocatedBytes() - base;
                }
                try (Workspace ws = rnn.workspace(4, lengths[i], Schedule.auto())) {
                    ckpt[i] = be.allocatedBytes() - base;
                }
            }
        }
        assertTrue(ckpt[1] < full[1] / 4, "checkpointed " + ckpt[1] + " vs full " + full[1]);
        double fullGrowth = (double) full[1] / full[0];
        double ckptGrowth = (double) ckpt[1] / ckpt[0];
        assertTrue(fullGrowth > 3.5, "full storage grows linearly: " + fullGrowth);
        assertTrue(ckptGrowth < 3.0, "checkpointed memory grows sub-linearly (inputs and targets stay O(T)): " + ckptGrowth);
    }
}
