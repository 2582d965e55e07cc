// CheckpointedBpttTest: recomputing segments gives bitwise the gradients of full storage, in less memory.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.backend.ref.CpuRefBackend;
import bptt.conformance.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointedBpttTest {

    /** Loss, gradient slab and every layer's dL/dh0 of one forward+backward, as float bits. */
    static float[] runOnce(Backend be, RnnConfig cfg, int batch, int seqLen, Schedule schedule, long seed) {
        try (Rnn rnn = new Rnn(be, cfg); Workspace ws = rnn.workspace(batch, seqLen, schedule)) {
            rnn.initialize(seed);
            SplittableRandom random = new SplittableRandom(seed + 1);
            float[] in = new float[(int) ws.inputs().size()];
            for (int i = 0; i < in.length; i++) {
                in[i] = cfg.tokenInput() ? random.nextInt(cfg.inputSize()) : (float) random.nextDouble(-1, 1);
            }
            float[] tg = new float[batch * seqLen];
            for (int i = 0; i < tg.length; i++) {
                tg[i] = random.nextInt(5) == 0 ? -1 : random.nextInt(cfg.outputSize());
            }
            tg[0] = 0;
            ws.setInputs(in);
            ws.setTargets(tg);
            for (int l = 0; l < cfg.layers(); l++) {
                float[] h = new float[batch * cfg.hidden()];
                for (int i = 0; i < h.length; i++) {
                    h[i] = (float) random.nextDouble(-0.5, 0.5);
                }
                be.upload(h, ws.initialState(l));
            }
            float loss = (float) ws.forward();
            ws.backward();
            float[] grads = be.download(rnn.grads());
            int h = batch * cfg.hidden();
            float[] out = new float[1 + grads.length + cfg.layers() * h * 2];
            out[0] = loss;
            System.arraycopy(grads, 0, out, 1, grads.length);
            for (int l = 0; l < cfg.layers(); l++) {
                System.arraycopy(be.download(ws.initialStateGrad(l)), 0, out, 1 + grads.length + 2 * l * h, h);
                System.arraycopy(be.download(ws.finalState(l)), 0, out, 1 + grads.length + (2 * l + 1) * h, h);
            }
            return out;
        }
    }

    @ParameterizedTest(name = "{0} tokens={1} L={2} B={3} T={4} k={5} S={6}")
    @CsvSource({
            "cpu-ref, true, 1, 3, 17, 4, 2",
            "cpu-ref, true, 1, 2, 33, 11, 11",
            "cpu-ref, true, 2, 3, 40, 8, 4",
            "cpu-ref, true, 2, 1, 65, 13, 1",
            "cpu-ref, false, 1, 5, 30, 6, 3",
            "cpu-ref, false, 2, 2, 29, 10, 5",
            "cpu-ref, true, 1, 4, 12, 12, 6",
            "cpu-ref, true, 3, 2, 21, 7, 7",
            "cpu, true, 1, 3, 17, 4, 2",
            "cpu, true, 2, 1, 65, 13, 1",
            "cpu, false, 2, 2, 29, 10, 5",
            "cpu, true, 2, 16, 200, 20, 10",
            "cpu, false, 1, 33, 64, 16, 16",
            "cuda, true, 1, 3, 17, 4, 2",
            "cuda, true, 2, 1, 65, 13, 1",
            "cuda, false, 2, 2, 29, 10, 5",
            "cuda, true, 2, 16, 200, 20, 10",
    })
    void checkpointedGradientsAreBitwiseEqualToFullStorage(String backend, boolean tokens, int layers, int batch,
                                                           int seqLen, int k, int chunk) {
        RnnConfig cfg = new RnnConfig(tokens ? 11 : 4, tokens, 9, layers, 11);
        try (Backend be = TestBackends.openFresh(backend)) {
            float[] full = runOnce(be, cfg, batch, seqLen, new Schedule(0, chunk), 5);
            float[] ckpt = runOnce(be, cfg, batch, seqLen, new Schedule(k, chunk), 5);
            assertArrayEquals(full, ckpt, "loss, gradients, dh0 and final state must be bitwise equal");
        }
    }

    /** Full storage split into several resident tensors (a backend with small tensors) changes no bit. */
    @ParameterizedTest(name = "tokens={0} L={1} B={2} T={3} max floats {4}")
    @CsvSource({"true, 1, 3, 40, 400", "false, 2, 2, 33, 500", "true, 2, 1, 65, 500"})
    void fullStorageSplitAcrossTensorsIsBitwiseEqual(boolean tokens, int layers, int batch, int seqLen, long maxFloats) {
        RnnConfig cfg = new RnnConfig(tokens ? 11 : 4, tokens, 9, layers, 11);
        try (CpuRefBackend one = CpuRefBackend.float32(); CpuRefBackend small = CpuRefBackend.float32(maxFloats)) {
            Schedule schedule = new Schedule(0, 5);
            try (Rnn rnn = new Rnn(small, cfg); Workspace ws = rnn.workspace(batch, seqLen, schedule)) {
                assertTrue(ws.segmentSteps() < seqLen, "the states must be split, got one segment of " + ws.segmentSteps());
            }
            assertArrayEquals(runOnce(one, cfg, batch, seqLen, schedule, 4), runOnce(small, cfg, batch, seqLen, schedule, 4));
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
                try (Workspace ws = rnn.workspace(4, lengths[i], Schedule.sqrt(lengths[i]))) {
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
