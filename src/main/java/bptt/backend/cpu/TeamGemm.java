// TeamGemm: a GEMM split by the thread team into row or column blocks, each one single-threaded OpenBLAS call.
package bptt.backend.cpu;

import bptt.backend.GemmPlan;
import bptt.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * Row-major C (m, n) = alpha·op(A)·op(B) + beta·C. OpenBLAS runs with one thread (it is never
 * given threads of its own); a product worth splitting is cut into blocks of C along its longer
 * side, in multiples of {@link #ALIGN}, and each team thread makes the {@link GemmPlan} call of
 * its block: a block of C's rows takes the same rows of op(A) and all of op(B), a block of
 * columns all of op(A) and the same columns of op(B). Every element of C is still one dot
 * product over the whole k, in OpenBLAS's order; the blocks depend only on the shape and the
 * team size, so results are reproducible for a fixed thread count.
 */
final class TeamGemm implements ThreadTeam.Task {
    /** Blocks start at multiples of this many rows or columns (a multiple of BLAS register tiles). */
    static final int ALIGN = 16;

    private final ThreadTeam team;
    private final long grain;
    private final OpenBlas.Address[][] addresses;
    // The current call, read by the parts.
    private boolean transA;
    private boolean transB;
    private Tensor a;
    private Tensor b;
    private Tensor c;
    private float alpha;
    private float beta;
    private boolean byColumns;

    /** Splits products of at least {@code grain} FLOPs per part over {@code team}. */
    TeamGemm(ThreadTeam team, long grain) {
        this.team = team;
        this.grain = grain;
        this.addresses = new OpenBlas.Address[team.size()][3];
        for (OpenBlas.Address[] triple : addresses) {
            for (int i = 0; i < 3; i++) {
                triple[i] = new OpenBlas.Address();
            }
        }
    }

    /** The product, shapes already checked by {@link bptt.backend.AbstractBackend}. */
    void gemm(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        int m = c.rows();
        int n = c.cols();
        int k = transA ? a.rows() : a.cols();
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0 || alpha == 0f) {
            scale(c, beta);
            return;
        }
        this.transA = transA;
        this.a = a;
        this.transB = transB;
        this.b = b;
        this.alpha = alpha;
        this.beta = beta;
        this.c = c;
        this.byColumns = n >= m;
        int blocks = ((byColumns ? n : m) + ALIGN - 1) / ALIGN;
        int parts = Math.min(blocks, team.partsFor(2L * m * n * k, grain));
        team.runParts(this, blocks, parts);
        this.a = this.b = this.c = null;
    }

    /** Blocks [from, to) of ALIGN rows or columns of C. */
    @Override
    public void run(int worker, int from, int to) {
        int extent = byColumns ? c.cols() : c.rows();
        int start = from * ALIGN;
        int count = Math.min(extent, to * ALIGN) - start;
        Tensor pa = a;
        Tensor pb = b;
        Tensor pc;
        if (byColumns) {   // op(B) columns [start, start+count): B's rows when B is stored transposed
            pb = transB ? pb.block(start, 0, count, pb.cols()) : pb.block(0, start, pb.rows(), count);
            pc = c.block(0, start, c.rows(), count);
        } else {           // op(A) rows [start, start+count): A's columns when A is stored transposed
            pa = transA ? pa.block(0, start, pa.rows(), count) : pa.block(start, 0, count, pa.cols());
            pc = c.block(start, 0, count, c.cols());
        }
        GemmPlan.Call p = GemmPlan.plan(transA, pa, transB, pb, alpha, beta, pc);
        if (beta == 0f && (p.m() == 1 || p.n() == 1)) {
            scale(pc, 0f);  // the sgemv path reads y even with beta = 0: no NaN may come from C
        }
        OpenBlas.Address[] at = addresses[worker];
        OpenBlas.sgemm(p, at[0].at(CpuMemory.address(p.a())), at[1].at(CpuMemory.address(p.b())),
                at[2].at(CpuMemory.address(p.c())));
    }

    /** C = beta·C (0 when beta is 0, whatever C held), row by row since C may be a strided view. */
    static void scale(Tensor c, float beta) {
        FloatBuffer cb = CpuMemory.buffer(c);
        int off = CpuMemory.offset(c);
        for (int r = 0; r < c.rows(); r++) {
            int base = off + r * c.ld();
            for (int j = 0; j < c.cols(); j++) {
                cb.put(base + j, beta == 0f ? 0f : beta * cb.get(base + j));
            }
        }
    }
}
