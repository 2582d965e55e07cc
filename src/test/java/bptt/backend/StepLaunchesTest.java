// StepLaunchesTest: a time step, as the OpenCL and CUDA backends run it (AbstractBackend's defaults), is one GEMM and one kernel each way.
package bptt.backend;

import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The opencl and cuda backends implement the kernel hooks and inherit the step ops' default
 * bodies; this backend records which hooks a step op reaches (and does no math), so it shows
 * what every such backend launches per time step: the recurrent GEMM and one fused kernel,
 * forward and backward, for every cell.
 */
class StepLaunchesTest {

    /** Records hook names; memory is real (so the checks run), arithmetic is absent. */
    private static final class Recording extends AbstractBackend {
        final List<String> launches = new ArrayList<>();

        private record Memory(Object owner, long capacity) implements DeviceMemory { }

        private void record(String what) { launches.add(what); }

        @Override public String name() { return "recording"; }
        @Override public String deviceDescription() { return "records hook calls"; }
        @Override protected DeviceMemory allocMemory(long floats) { return new Memory(this, floats); }
        @Override protected void freeMemory(DeviceMemory memory) { }
        @Override protected void uploadHook(float[] src, Tensor dst) { }
        @Override protected float[] downloadHook(Tensor src) { return new float[(int) src.size()]; }
        @Override protected void gemmHook(boolean ta, Tensor a, boolean tb, Tensor b, float al, float be, Tensor c) {
            record("gemm" + (ta ? "T" : "N") + (tb ? "T" : "N") + (be == 0f ? "" : "+C"));
        }
        @Override protected void fillHook(Tensor x, float value) { record("fill"); }
        @Override protected void copyHook(Tensor src, Tensor dst) { record("copy"); }
        @Override protected void axpyHook(float alpha, Tensor x, Tensor y) { record("axpy"); }
        @Override protected void scaleHook(float alpha, Tensor x) { record("scale"); }
        @Override protected void biasTanhHook(Tensor x, Tensor bias) { record("bias_tanh"); }
        @Override protected void tanhBackwardHook(Tensor a, Tensor da) { record("tanh_backward"); }
        @Override protected void tanhCellBackwardHook(Tensor a, Tensor dnext, Tensor da) { record("tanh_cell_backward"); }
        @Override protected void lstmCellForwardHook(Tensor g, Tensor bi, Tensor bh, Tensor cp, Tensor c, Tensor h) {
            record("lstm_cell_forward");
        }
        @Override protected void lstmCellBackwardHook(Tensor g, Tensor cp, Tensor c, Tensor dh, Tensor dn, Tensor dc) {
            record("lstm_cell_backward");
        }
        @Override protected void gruCellForwardHook(Tensor g, Tensor hh, Tensor bi, Tensor bh, Tensor hp, Tensor hn,
                                                    Tensor h) {
            record("gru_cell_forward");
        }
        @Override protected void gruCellBackwardHook(Tensor g, Tensor hn, Tensor hp, Tensor dh, Tensor dn, Tensor dgh) {
            record("gru_cell_backward");
        }
        @Override protected void sumRowsHook(Tensor x, float beta, Tensor out) { record("sum_rows"); }
        @Override protected void softmaxCrossEntropyHook(Tensor l, Tensor b, Tensor t, float s, Tensor d, Tensor o) {
            record("softmax_cross_entropy");
        }
        @Override protected void meanSquaredErrorHook(Tensor p, Tensor b, Tensor y, Tensor m, float s, Tensor d,
                                                      Tensor o) {
            record("mean_squared_error");
        }
        @Override protected void gatherColumnsHook(Tensor ids, Tensor table, Tensor out) { record("gather_columns"); }
        @Override protected void scatterAddColumnsHook(Tensor ids, Tensor g, Tensor tg) { record("scatter_add_columns"); }
        @Override protected double sumOfSquaresHook(Tensor x) { record("sum_of_squares"); return 0; }
        @Override protected void sgdUpdateHook(Tensor p, Tensor g, float lr, float s) { record("sgd_update"); }
        @Override protected void adamUpdateHook(Tensor p, Tensor g, Tensor m, Tensor v, float lr, float b1, float b2,
                                                float eps, int step, float s) {
            record("adam_update");
        }
        @Override protected void adagradUpdateHook(Tensor p, Tensor g, Tensor c, float lr, float eps, float s) {
            record("adagrad_update");
        }
        @Override public void close() { }
    }

    private static final int B = 3;
    private static final int H = 4;

    @Test
    void everyCellStepIsOneGemmAndOneKernelEachWay() {
        Recording be = new Recording();
        Map<String, Runnable> ops = new StepOps(be, B, H).ops;
        assertEquals(List.of("gemmNT+C", "bias_tanh"), launches(be, ops.get("tanhStepForward")));
        assertEquals(List.of("tanh_cell_backward", "gemmNN"), launches(be, ops.get("tanhStepBackward")));
        assertEquals(List.of("gemmNT+C", "lstm_cell_forward"), launches(be, ops.get("lstmStepForward")));
        assertEquals(List.of("lstm_cell_backward", "gemmNN"), launches(be, ops.get("lstmStepBackward")));
        assertEquals(List.of("gemmNT", "gru_cell_forward"), launches(be, ops.get("gruStepForward")));
        assertEquals(List.of("gru_cell_backward", "gemmNN+C"), launches(be, ops.get("gruStepBackward")));
    }

    private static List<String> launches(Recording be, Runnable step) {
        be.launches.clear();
        step.run();
        return List.copyOf(be.launches);
    }
}
