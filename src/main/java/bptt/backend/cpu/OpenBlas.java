// OpenBlas: loads OpenBLAS through JavaCPP once, sets its thread count, runs GemmPlan calls.
package bptt.backend.cpu;

import bptt.backend.GemmPlan;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * The only place that calls native BLAS. {@link #load} never throws: it records why the
 * natives are missing so the provider can say so. Operands are passed as raw addresses in
 * reusable {@link Address} pointers, so a GEMM allocates nothing and copies nothing.
 */
final class OpenBlas {
    private OpenBlas() { }

    private static final int COL_MAJOR = 102;
    private static final int NO_TRANS = 111;
    private static final int TRANS = 112;

    private static String failure;
    private static boolean loaded;

    /** Loads the natives (once) and returns null, or the reason they cannot load. */
    static synchronized String load() {
        if (!loaded && failure == null) {
            try {
                Loader.load(openblas_nolapack.class);
                loaded = true;
            } catch (Throwable e) {
                failure = "OpenBLAS natives for " + Loader.getPlatform() + " did not load (" + e
                        + "); rebuild with mvn package -Djavacpp.platform=" + Loader.getPlatform()
                        + ", or use --backend cpu-ref";
            }
        }
        return loaded ? null : failure;
    }

    static void setThreads(int n) { openblas_nolapack.blas_set_num_threads(n); }

    static int threads() { return openblas_nolapack.blas_get_num_threads(); }

    /** A FloatPointer whose address is set per call: no allocation, no deallocator. */
    static final class Address extends FloatPointer {
        Address() { super((Pointer) null); }

        Address at(long bytes) {
            this.address = bytes;
            this.position = 0;
            return this;
        }
    }

    /**
     * Runs one column-major call; a, b, c point at the plan's A, B and C. m, n, k are positive
     * here (degenerate shapes are handled by the caller). When n or m is 1 the same product is
     * handed to sgemv, which OpenBLAS runs ~10x faster than sgemm at that shape (sgemm packs
     * the whole matrix for one column): the per-step recurrent GEMM at batch 1. With beta = 0
     * the caller has zeroed C, so sgemv's y = beta·y cannot carry NaN from C either way.
     */
    static void sgemm(GemmPlan.Call p, Address a, Address b, Address c) {
        if (p.n() == 1) {
            // C(:,0) = alpha·op(A)·x + beta·C(:,0), x = column 0 of op(B) (B is k×1, or 1×k stored with ldb)
            openblas_nolapack.cblas_sgemv(COL_MAJOR, p.transa() ? TRANS : NO_TRANS,
                    p.transa() ? p.k() : p.m(), p.transa() ? p.m() : p.k(), p.alpha(), a, p.lda(),
                    b, p.transb() ? p.ldb() : 1, p.beta(), c, 1);
        } else if (p.m() == 1) {
            // C(0,:)ᵀ = alpha·op(B)ᵀ·x + beta·C(0,:)ᵀ, x = row 0 of op(A), C's row strided by ldc
            openblas_nolapack.cblas_sgemv(COL_MAJOR, p.transb() ? NO_TRANS : TRANS,
                    p.transb() ? p.n() : p.k(), p.transb() ? p.k() : p.n(), p.alpha(), b, p.ldb(),
                    a, p.transa() ? 1 : p.lda(), p.beta(), c, p.ldc());
        } else {
            openblas_nolapack.cblas_sgemm(COL_MAJOR, p.transa() ? TRANS : NO_TRANS, p.transb() ? TRANS : NO_TRANS,
                    p.m(), p.n(), p.k(), p.alpha(), a, p.lda(), b, p.ldb(), p.beta(), c, p.ldc());
        }
    }
}
