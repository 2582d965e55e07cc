// OptimizerFormulaTest: SGD, Adam, Adagrad and global-norm clipping against their formulas and torch.optim's numbers.
package bptt.train;

import bptt.backend.Backend;
import bptt.conformance.TestBackends;
import bptt.rnn.Workspace;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three updates of five parameters with fixed gradients, scaled by 0.5 (as clipping scales
 * them), on every backend. Each result is held against (1) the update rule written out here in
 * double precision, independently of the backends' kernels, and (2) the numbers PyTorch's
 * torch.optim gives for the same problem. Those were produced by this script (Debian's
 * python3-torch 1.13, run with /usr/bin/python3):
 * <pre>
 * import torch
 * p0 = [0.5, -1.25, 2.0, 0.0, -0.75]
 * grads = [[0.3, -0.2, 0.05, 1.5, -0.9], [-0.1, 0.4, 0.25, -0.6, 0.2], [0.7, 0.0, -0.35, 0.05, 0.45]]
 * scale = 0.5
 * def run(make):
 *     p = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float32))
 *     opt = make([p])
 *     for g in grads:
 *         opt.zero_grad()
 *         p.grad = torch.tensor(g, dtype=torch.float32) * scale
 *         opt.step()
 *     return [float(x) for x in p.detach()]
 * print("SGD", run(lambda ps: torch.optim.SGD(ps, lr=0.1)))
 * print("ADAM", run(lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8)))
 * print("ADAGRAD", run(lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-8)))
 * </pre>
 * torch's Adagrad divides by sqrt(sum) + eps where min-char-rnn's rule (ours) takes
 * sqrt(sum + eps); with these sums the two differ by less than 1e-7.
 */
class OptimizerFormulaTest {
    private static final float[] P0 = {0.5f, -1.25f, 2.0f, 0.0f, -0.75f};
    private static final float[][] GRADS = {{0.3f, -0.2f, 0.05f, 1.5f, -0.9f}, {-0.1f, 0.4f, 0.25f, -0.6f, 0.2f},
            {0.7f, 0.0f, -0.35f, 0.05f, 0.45f}};
    private static final float SCALE = 0.5f;
    private static final double[] TORCH_SGD = {0.45499998331069946, -1.2599999904632568, 2.00249981880188,
            -0.04750000312924385, -0.7374999523162842};
    private static final double[] TORCH_ADAM = {0.47890257835388184, -1.2464910745620728, 1.9826363325119019,
            -0.0163241196423769, -0.73445725440979};
    private static final double[] TORCH_ADAGRAD = {0.34049052000045776, -1.2394427061080933, 1.8827708959579468,
            -0.06595437973737717, -0.7155563235282898};

    @TempDir
    Path dir;

    static List<String> backends() {
        List<String> all = new ArrayList<>(List.of("cpu-ref"));
        all.addAll(TestBackends.underTest());
        return all;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void sgdAdamAndAdagradFollowTheirFormulasAndTorch(String backend) {
        try (Backend be = TestBackends.openFresh(backend)) {
            check(be, Optimizer.Kind.SGD, 0.1f, TORCH_SGD);
            check(be, Optimizer.Kind.ADAM, 0.01f, TORCH_ADAM);
            check(be, Optimizer.Kind.ADAGRAD, 0.1f, TORCH_ADAGRAD);
        }
    }

    private static void check(Backend be, Optimizer.Kind kind, float lr, double[] torch) {
        Tensor params = be.alloc(1, P0.length);
        Tensor grads = be.alloc(1, P0.length);
        float[] got;
        try (Optimizer optimizer = new Optimizer(be, kind, lr, P0.length)) {
            be.upload(P0, params);
            for (float[] g : GRADS) {
                be.upload(g, grads);
                optimizer.step(params, grads, SCALE);
            }
            got = be.download(params);
        } finally {
            be.free(params);
            be.free(grads);
        }
        double[] formula = formula(kind, lr);
        for (int i = 0; i < P0.length; i++) {
            String where = be.name() + " " + kind + " parameter " + i;
            assertEquals(formula[i], got[i], 1e-6 * (1 + Math.abs(formula[i])), where + " against the formula");
            assertEquals(torch[i], got[i], 2e-6 * (1 + Math.abs(torch[i])), where + " against torch.optim");
        }
    }

    /** The update rules in double precision: SGD; Adam with bias correction (PyTorch); Adagrad as min-char-rnn. */
    private static double[] formula(Optimizer.Kind kind, double lr) {
        double[] p = new double[P0.length];
        double[] m = new double[P0.length];
        double[] v = new double[P0.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = P0[i];
        }
        for (int t = 1; t <= GRADS.length; t++) {
            for (int i = 0; i < p.length; i++) {
                double g = (double) GRADS[t - 1][i] * SCALE;
                switch (kind) {
                    case SGD -> p[i] -= lr * g;
                    case ADAM -> {
                        m[i] = 0.9 * m[i] + 0.1 * g;
                        v[i] = 0.999 * v[i] + 0.001 * g * g;
                        double mHat = m[i] / (1 - Math.pow(0.9, t));
                        double vHat = v[i] / (1 - Math.pow(0.999, t));
                        p[i] -= lr * mHat / (Math.sqrt(vHat) + 1e-8);
                    }
                    case ADAGRAD -> {
                        v[i] += g * g;
                        p[i] -= lr * g / Math.sqrt(v[i] + 1e-8);
                    }
                }
            }
        }
        return p;
    }

    /**
     * One SGD step of a real Trainer: the gradient g of the step's window is recomputed on the
     * same workspace first, then the trainer's update must be p − lr·min(1, clip/‖g‖)·g, with
     * ‖g‖ the global norm over every parameter (clip 0 = off).
     */
    @ParameterizedTest(name = "{0} clip {1}")
    @CsvSource({"cpu-ref, 0.05", "cpu-ref, 0", "cpu-ref, 1000", "cpu, 0.05", "cuda, 0.05", "cuda, 0", "opencl, 0.05"})
    void trainerClipsTheGlobalNormAsTheFormulaSays(String backend, float clip) throws IOException {
        Path text = Files.writeString(dir.resolve("t.txt"), "the quick brown fox jumps over the lazy dog. ".repeat(6));
        Corpus corpus = Corpus.load(text, 0);
        float lr = 0.5f;
        TrainSettings s = new TrainSettings(6, 2, 3, 5, 1, lr, Optimizer.Kind.SGD, clip, 7, 0, 0, 0, 0);
        try (Backend be = TestBackends.openFresh(backend); Trainer trainer = new Trainer(be, corpus, s)) {
            Workspace ws = trainer.workspace();
            trainer.data().fill(0, 0, ws.window());
            ws.resetState();
            ws.forward();
            ws.backward();
            float[] g = be.download(trainer.rnn().grads());
            float[] before = be.download(trainer.rnn().params());
            double norm = 0;
            for (float x : g) {
                norm += (double) x * x;
            }
            norm = Math.sqrt(norm);
            double factor = clip > 0 && norm > clip ? clip / norm : 1;
            if (clip == 0.05f) {
                assertTrue(factor < 0.5, "the case must clip hard: ‖g‖ = " + norm);
            }
            trainer.trainStep();
            float[] after = be.download(trainer.rnn().params());
            assertEquals(norm, trainer.lastGradNorm(), 1e-5 * norm, "the reported norm is the global norm before clipping");
            for (int i = 0; i < g.length; i++) {
                double expected = before[i] - lr * factor * g[i];
                assertEquals(expected, after[i], 2e-7 * (1 + Math.abs(expected)), "parameter " + i);
            }
        }
    }
}
