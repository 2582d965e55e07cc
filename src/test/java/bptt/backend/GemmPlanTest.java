// GemmPlanTest: the row-major -> column-major BLAS mapping, run through reference-BLAS sgemm.
package bptt.backend;

import bptt.backend.ref.CpuRefBackend;
import bptt.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

class GemmPlanTest {

    static Stream<Arguments> cases() {
        int[] dims = {1, 3, 17, 65};
        List<Arguments> list = new ArrayList<>();
        long seed = 1;
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                for (int m : dims) {
                    for (int n : new int[]{1, 17, 33}) {
                        for (int k : new int[]{1, 3, 65}) {
                            list.add(Arguments.of(ta, tb, m, n, k, 1f, 0f, 0, seed++));
                        }
                    }
                }
                list.add(Arguments.of(ta, tb, 17, 3, 65, -0.5f, 2f, 0, seed++));
                list.add(Arguments.of(ta, tb, 65, 33, 17, 1.5f, 1f, 5, seed++));
                list.add(Arguments.of(ta, tb, 3, 1, 17, 0f, 0.25f, 2, seed++));
                list.add(Arguments.of(ta, tb, 33, 17, 3, 2f, -1f, 7, seed++));
            }
        }
        return list.stream();
    }

    /** Each operand is a block of a wider allocation when pad > 0, so ld exceeds the width. */
    @ParameterizedTest(name = "transA={0} transB={1} m={2} n={3} k={4} alpha={5} beta={6} pad={7}")
    @MethodSource("cases")
    void planExecutedByReferenceBlasMatchesNaiveRowMajorLoops(boolean transA, boolean transB, int m, int n, int k,
                                                              float alpha, float beta, int pad, long seed) {
        Random random = new Random(seed);
        try (CpuRefBackend be = CpuRefBackend.float32()) {
            int ar = transA ? k : m, ac = transA ? m : k;
            int br = transB ? n : k, bc = transB ? k : n;
            Tensor a = paddedBlock(be, ar, ac, pad, random);
            Tensor b = paddedBlock(be, br, bc, pad, random);
            Tensor c = paddedBlock(be, m, n, pad, random);

            float[] aHost = be.download(rootOf(be, a));
            float[] bHost = be.download(rootOf(be, b));
            float[] cHost = be.download(rootOf(be, c));
            float[] expected = cHost.clone();
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int p = 0; p < k; p++) {
                        float aip = transA ? aHost[idx(a, p, i)] : aHost[idx(a, i, p)];
                        float bpj = transB ? bHost[idx(b, j, p)] : bHost[idx(b, p, j)];
                        sum += (double) aip * bpj;
                    }
                    int ci = idx(c, i, j);
                    expected[ci] = (float) (alpha * sum + (beta == 0f ? 0 : beta * cHost[ci]));
                }
            }

            GemmPlan.Call call = GemmPlan.plan(transA, a, transB, b, alpha, beta, c);
            float[] got = cHost.clone();
            ReferenceBlas.sgemm(call.transaChar(), call.transbChar(), call.m(), call.n(), call.k(), call.alpha(),
                    call.a() == a ? aHost : bHost, (int) call.a().offset(), call.lda(),
                    call.b() == a ? aHost : bHost, (int) call.b().offset(), call.ldb(),
                    call.beta(), got, (int) call.c().offset(), call.ldc());
            for (int i = 0; i < got.length; i++) {
                assertEquals(expected[i], got[i], 1e-4f * (1 + Math.abs(expected[i])),
                        "element " + i + " of C's allocation for " + call);
            }
        }
    }

    private static Tensor paddedBlock(CpuRefBackend be, int rows, int cols, int pad, Random random) {
        Tensor root = be.alloc(rows + pad, cols + pad);
        float[] values = new float[(int) root.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        be.upload(values, root);
        return root.block(pad > 0 ? 1 : 0, pad > 0 ? pad - 1 : 0, rows, cols);
    }

    private static Tensor rootOf(CpuRefBackend be, Tensor view) {
        return new Tensor(view.memory(), 0, 1, (int) view.memory().capacity(), (int) view.memory().capacity());
    }

    private static int idx(Tensor t, int r, int c) { return (int) (t.offset() + (long) r * t.ld() + c); }
}
