// SegmentUploadBitwiseTest: uploading a window segment by segment from host staging leaves every gradient bitwise as before.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.backend.ref.CpuRefBackend;
import bptt.conformance.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The window's inputs and targets used to be (T·B) float tensors uploaded whole; now they live on
 * the host and one segment at a time is uploaded. The expected values below were recorded by
 * running exactly this problem (two windows, forward and backward each, the state carried) on the
 * code before that change (commit d1e39b3): the SHA-256 of every compute op the workspace issued,
 * with each operand's place and, for the window's data, its contents ({@link OpTrace}), and the
 * CRC-32 of the loss, gradients, dL/dh0 (dL/dc0) and final states on cpu-ref. Every cell, token
 * and dense input, full storage, {@code --checkpoint-every auto} and K = 5.
 *
 * <p>On cpu-ref both must match. On cpu the trace must match (the same ops on the same operands
 * with the same data: a deterministic backend then gives the same bits; its absolute bits depend
 * on the machine's BLAS kernels, so they cannot be recorded once), and full storage and auto must
 * give the same bits, as the README claims.
 */
class SegmentUploadBitwiseTest {

    @ParameterizedTest(name = "{0} {1} k={2}")
    @CsvSource({
            "tanh, tokens, 0, 7646212ac885fe306c5182ff0092f6fddabe78bf742ee0dea97cbebd6239352a, 2027867559",
            "tanh, tokens, -1, 730f0c6de40473cd97cc0c4cf388b771612226b7ad7bf285005cd2e43d18274a, 2027867559",
            "tanh, tokens, 5, 693a1a95921013ef16c657c9fe890896356855e7def841d3da53a7acc56d3c42, 1379517766",
            "tanh, dense, 0, 7789c4c343dc1970beeb5433c301ee9f7a50de43c1f07ed2c6efba1817ff4f8e, 690192787",
            "tanh, dense, -1, f1a87e95ae1a5e7bc46a90dca3cd1898b37cc0e1a403224f3f7083b97237e341, 690192787",
            "tanh, dense, 5, f1a87e95ae1a5e7bc46a90dca3cd1898b37cc0e1a403224f3f7083b97237e341, 690192787",
            "lstm, tokens, 0, 9023b353e99c547565af7b35275b57f506d20ceebf51747b4fe39361b815d12e, 3651469310",
            "lstm, tokens, -1, 6f2b89a5abd6ee653f6fc9cbef255ae65cd092f5030b04d788b9f6b97aca220b, 3651469310",
            "lstm, tokens, 5, fda979c33db08654e39d10d4355156419e3a570e56e124ff5deb528fd661fbdb, 630509151",
            "lstm, dense, 0, d0d1ee996013e9ef3c059601e376b4ab9dfebe15b6eff0fdbf3a0327f51ac2f3, 2601875230",
            "lstm, dense, -1, 4b803709097b01df8ad547b0ea5ae107460a9111b4ef69b905a55084b55d1a38, 2601875230",
            "lstm, dense, 5, 4b803709097b01df8ad547b0ea5ae107460a9111b4ef69b905a55084b55d1a38, 2601875230",
            "gru, tokens, 0, 6ce60b14f1fb175bf01853c1fb9fb0054c67484df9befd04403a3a1d1a82a129, 2236296754",
            "gru, tokens, -1, bb1ad765d60d703c17fc8a58524501718a435a40ef68f27fe7cb2ad5f5d90f05, 2236296754",
            "gru, tokens, 5, 83c91a8bcc3ef1b26b8760ea38fee5fe65aa5ddd02ac88fa7158560bca23d4be, 1148755123",
            "gru, dense, 0, 6ee8f039b75c58a36eeb8d5616661da1250f15402694c90975e67c45e031b49f, 4079140189",
            "gru, dense, -1, 9c3c521ebc678a319d6e11f718b4e255d0acc321574b500dc68849d450c94984, 4079140189",
            "gru, dense, 5, 9c3c521ebc678a319d6e11f718b4e255d0acc321574b500dc68849d450c94984, 4079140189"})
    void gradientsAndOpsAreThoseOfWholeWindowUploads(String cell, String model, int k, String trace,
                                                     long resultCrc) {
        Run ref = run(CpuRefBackend.float32(), Cell.parse(cell), model, k);
        assertEquals(trace, ref.trace, "cpu-ref: the op sequence changed");
        assertEquals(resultCrc, ref.crc, "cpu-ref: loss, gradients or states changed");
        assertTrue(ref.ops > 100, "a trace of " + ref.ops + " ops is too short to mean anything");
        Run cpu = run(TestBackends.openFresh("cpu"), Cell.parse(cell), model, k);
        assertEquals(trace, cpu.trace, "cpu: the op sequence changed");
        if (k == Schedule.AUTO) {
            Run full = run(TestBackends.openFresh("cpu"), Cell.parse(cell), model, 0);
            assertEquals(full.crc, cpu.crc, "cpu: auto checkpointing is bitwise full storage");
        }
    }

    private record Run(String trace, long crc, long ops) { }

    /** The recorded problem: two windows of random data, forward and backward each, the state carried between them. */
    private static Run run(Backend raw, Cell cell, String model, int k) {
        boolean tokens = model.equals("tokens");
        RnnConfig cfg = tokens ? RnnConfig.charModel(cell, 7, 5, 2) : new RnnConfig(4, false, 6, 1, 5, cell);
        int batch = tokens ? 3 : 2;
        int seqLen = tokens ? 37 : 29;
        OpTrace trace = OpTrace.of(raw);
        Backend be = trace.backend();
        CRC32 crc = new CRC32();
        try (raw; Rnn rnn = new Rnn(be, cfg); Workspace ws = rnn.workspace(batch, seqLen, new Schedule(k, 0))) {
            trace.data(ws.inputs());
            trace.data(ws.targets());
            rnn.initialize(11);
            SplittableRandom r = new SplittableRandom(5);
            for (int l = 0; l < cfg.layers(); l++) {
                be.upload(uniform(r, batch * cfg.hidden()), ws.initialState(l));
                if (cell.hasCellState()) {
                    be.upload(uniform(r, batch * cfg.hidden()), ws.initialCellState(l));
                }
            }
            Window w = ws.window();
            int rows = batch * seqLen;
            for (int window = 0; window < 2; window++) {
                for (int i = 0; i < (tokens ? rows : rows * cfg.inputSize()); i++) {
                    if (tokens) {
                        w.setToken(i, r.nextInt(cfg.inputSize()));
                    } else {
                        w.setInput(i / cfg.inputSize(), i % cfg.inputSize(), (float) r.nextDouble(-1, 1));
                    }
                }
                for (int i = 0; i < rows; i++) {
                    w.setTarget(i, r.nextInt(6) == 0 ? -1 : r.nextInt(cfg.outputSize()));
                }
                float loss = (float) ws.forward();
                ws.backward();
                update(crc, new float[]{loss});
                update(crc, be.download(rnn.grads()));
                for (int l = 0; l < cfg.layers(); l++) {
                    update(crc, be.download(ws.initialStateGrad(l)));
                    update(crc, be.download(ws.finalState(l)));
                    if (cell.hasCellState()) {
                        update(crc, be.download(ws.initialCellStateGrad(l)));
                        update(crc, be.download(ws.finalCellState(l)));
                    }
                }
                ws.carryState();
            }
            return new Run(trace.hex(), crc.getValue(), trace.ops());
        }
    }

    private static void update(CRC32 crc, float[] values) {
        for (float v : values) {
            int b = Float.floatToRawIntBits(v);
            crc.update(b);
            crc.update(b >>> 8);
            crc.update(b >>> 16);
            crc.update(b >>> 24);
        }
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-0.5, 0.5);
        }
        return v;
    }
}
