// KernelBackend: the elementwise, loss, gather and optimizer ops that cuda and opencl both run as KernelSource kernels through their KernelCalls.
package bptt.backend;

import bptt.tensor.Tensor;

/**
 * A backend whose every op but GEMM and the transfers is one or a few launches of the shared
 * kernels: each hook here hands its operands to {@link #calls()} after {@link #beforeLaunch()}.
 * The subclass supplies the launcher, two small device tensors and its transfers and GEMM.
 */
public abstract class KernelBackend extends AbstractBackend {
    /** @return the launcher of this backend's kernels */
    protected abstract KernelCalls calls();

    /** @return a (1, 1) device tensor that receives {@link #sumOfSquares}'s result */
    protected abstract Tensor total();

    /** @return a (1, {@link KernelCalls#STEP_SCALARS}) device tensor of the Backend contract's optimizer scalars */
    protected abstract Tensor apiScalars();

    /** Runs before every launch of these hooks (cuda makes its context current); nothing by default. */
    protected void beforeLaunch() { }

    @Override
    protected final void fillHook(Tensor x, float value) {
        beforeLaunch();
        calls().fill(x, value);
    }

    @Override
    protected final void copyHook(Tensor src, Tensor dst) {
        beforeLaunch();
        calls().copy(src, dst);
    }

    @Override
    protected final void axpyHook(float alpha, Tensor x, Tensor y) {
        beforeLaunch();
        calls().axpy(alpha, x, y);
    }

    @Override
    protected final void scaleHook(float alpha, Tensor x) {
        beforeLaunch();
        calls().scale(alpha, x);
    }

    @Override
    protected final void biasTanhHook(Tensor x, Tensor bias) {
        beforeLaunch();
        calls().biasTanh(x, bias);
    }

    @Override
    protected final void tanhBackwardHook(Tensor a, Tensor da) {
        beforeLaunch();
        calls().tanhBackward(a, da);
    }

    @Override
    protected final void sumRowsHook(Tensor x, float beta, Tensor out) {
        beforeLaunch();
        calls().sumRows(x, beta, out);
    }

    @Override
    protected final void tanhCellBackwardHook(Tensor a, Tensor dnext, Tensor da) {
        beforeLaunch();
        calls().tanhCellBackward(a, dnext, da);
    }

    @Override
    protected final void lstmCellForwardHook(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c,
                                             Tensor h) {
        beforeLaunch();
        calls().lstmCellForward(gates, biasIh, biasHh, cPrev, c, h);
    }

    @Override
    protected final void lstmCellBackwardHook(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext,
                                              Tensor dc) {
        beforeLaunch();
        calls().lstmCellBackward(gates, cPrev, c, dh, dnext, dc);
    }

    @Override
    protected final void gruCellForwardHook(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev,
                                            Tensor hn, Tensor h) {
        beforeLaunch();
        calls().gruCellForward(gates, hh, biasIh, biasHh, hPrev, hn, h);
    }

    @Override
    protected final void gruCellBackwardHook(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                             Tensor dgatesHh) {
        beforeLaunch();
        calls().gruCellBackward(gates, hn, hPrev, dh, dnext, dgatesHh);
    }

    @Override
    protected final void softmaxCrossEntropyHook(Tensor logits, Tensor bias, Tensor targets, float gradScale,
                                                 Tensor dlogits, Tensor losses) {
        beforeLaunch();
        calls().softmaxCrossEntropy(logits, bias, targets, gradScale, dlogits, losses);
    }

    @Override
    protected final void meanSquaredErrorHook(Tensor predictions, Tensor bias, Tensor targets, Tensor mask,
                                              float gradScale, Tensor dpredictions, Tensor losses) {
        beforeLaunch();
        calls().meanSquaredError(predictions, bias, targets, mask, gradScale, dpredictions, losses);
    }

    @Override
    protected final void gatherColumnsHook(Tensor ids, Tensor table, Tensor out) {
        beforeLaunch();
        calls().gatherColumns(ids, table, out);
    }

    @Override
    protected final void scatterAddColumnsHook(Tensor ids, Tensor grad, Tensor tableGrad) {
        beforeLaunch();
        calls().scatterAddColumns(ids, grad, tableGrad);
    }

    @Override
    protected final double sumOfSquaresHook(Tensor x) {
        if (x.size() == 0) {
            return 0;
        }
        beforeLaunch();
        calls().sumOfSquares(x, total());
        return downloadHook(total())[0];
    }

    @Override
    protected final void sgdUpdateHook(Tensor param, Tensor grad, float lr, float gradScale) {
        beforeLaunch();
        calls().setStepScalars(apiScalars(), gradScale, 1f, 1f);
        calls().sgdUpdate(param, grad, lr, apiScalars());
    }

    @Override
    protected final void adamUpdateHook(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1,
                                        float beta2, float eps, int step, float gradScale) {
        beforeLaunch();
        calls().setStepScalars(apiScalars(), gradScale, KernelCalls.biasCorrection(beta1, step),
                KernelCalls.biasCorrection(beta2, step));
        calls().adamUpdate(param, grad, m, v, lr, beta1, beta2, eps, apiScalars());
    }

    @Override
    protected final void adagradUpdateHook(Tensor param, Tensor grad, Tensor cache, float lr, float eps,
                                           float gradScale) {
        beforeLaunch();
        calls().setStepScalars(apiScalars(), gradScale, 1f, 1f);
        calls().adagradUpdate(param, grad, cache, lr, eps, apiScalars());
    }
}
