// SqrtTMemoryTest: the tensors a checkpointed training step really allocates grow like √T, full storage's like T.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.conformance.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

class SqrtTMemoryTest {

    /**
     * The backend's allocation high-water mark over one forward and backward pass (not the plan) at
     * T = 2,500, 25,000 and 250,000 with {@code --checkpoint-every auto}: the least-squares slope of
     * log bytes against log T is ½ (0.45–0.55). The model is tiny (B = 2, H = 4, V = 5) so that the
     * parameters, which do not grow with T, do not flatten the slope; anything of size T·B on the
     * device (inputs or targets of the whole window, say) would push it towards 1, as full storage
     * shows at the two shorter windows.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu-ref", "cpu"})
    void checkpointedTensorsGrowLikeTheSquareRootOfT(String backend) {
        int[] seqLens = {2_500, 25_000, 250_000};
        double[] bytes = new double[seqLens.length];
        for (int i = 0; i < seqLens.length; i++) {
            bytes[i] = peakBytesOfOneStep(backend, seqLens[i], Schedule.parse("auto"));
        }
        double slope = logLogSlope(seqLens, bytes);
        assertTrue(slope > 0.45 && slope < 0.55, String.format("checkpointed: bytes %.0f, %.0f, %.0f at T = %d, %d, %d:"
                + " slope %.3f, not ½", bytes[0], bytes[1], bytes[2], seqLens[0], seqLens[1], seqLens[2], slope));
        int[] fullSeqLens = {2_500, 25_000};
        double[] full = {peakBytesOfOneStep(backend, fullSeqLens[0], Schedule.parse("0")),
                peakBytesOfOneStep(backend, fullSeqLens[1], Schedule.parse("0"))};
        double fullSlope = logLogSlope(fullSeqLens, full);
        assertTrue(fullSlope > 0.9 && fullSlope < 1.1, "full storage: slope " + fullSlope + ", not 1");
    }

    /** The peak bytes a fresh backend allocates for a model, its workspace and one forward + backward at T = seqLen. */
    private static double peakBytesOfOneStep(String backend, int seqLen, Schedule schedule) {
        RnnConfig cfg = RnnConfig.charModel(5, 4, 1);
        int batch = 2;
        try (Backend be = TestBackends.openFresh(backend);
             Rnn rnn = new Rnn(be, cfg);
             Workspace ws = rnn.workspace(batch, seqLen, schedule)) {
            rnn.initialize(3);
            SplittableRandom random = new SplittableRandom(4);
            Window window = ws.window();
            for (int row = 0; row < batch * seqLen; row++) {
                window.setToken(row, random.nextInt(5));
                window.setTarget(row, random.nextInt(5));
            }
            double loss = ws.forward();
            ws.backward();
            assertTrue(Double.isFinite(loss), "loss " + loss);
            return be.peakAllocatedBytes();
        }
    }

    /** The least-squares slope of log y against log x. */
    private static double logLogSlope(int[] x, double[] y) {
        double mx = 0;
        double my = 0;
        for (int i = 0; i < x.length; i++) {
            mx += Math.log(x[i]) / x.length;
            my += Math.log(y[i]) / x.length;
        }
        double sxy = 0;
        double sxx = 0;
        for (int i = 0; i < x.length; i++) {
            double dx = Math.log(x[i]) - mx;
            sxy += dx * (Math.log(y[i]) - my);
            sxx += dx * dx;
        }
        return sxy / sxx;
    }
}
