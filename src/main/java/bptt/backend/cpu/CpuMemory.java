// CpuMemory: one native (off-heap) float32 allocation, seen by OpenBLAS as an address and by Java as a FloatBuffer.
package bptt.backend.cpu;

import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

import java.nio.FloatBuffer;

/** Native memory: BLAS reads it in place (no per-call copy as with heap arrays). */
final class CpuMemory implements DeviceMemory {
    final FloatPointer pointer;
    /** The same bytes as a direct buffer, for the Java elementwise kernels. */
    final FloatBuffer buffer;
    /** Address of element 0. */
    final long address;
    private final Object owner;
    /**
     * Counts the ops that wrote this memory: every hook of {@link CpuBackend} that writes a
     * tensor bumps it, so {@link PackedWeights} knows when a packed copy of a weight is stale.
     */
    long version;
    /** A direct FloatBuffer spans at most 2^31 − 1 bytes, so the Java kernels reach this many floats. */
    static final long MAX_FLOATS = Integer.MAX_VALUE / Float.BYTES;

    CpuMemory(Object owner, long floats) {
        this.owner = owner;
        this.pointer = new FloatPointer(floats);
        if (pointer.isNull()) {
            throw new OutOfMemoryError("cannot allocate " + floats * Float.BYTES + " bytes of native memory");
        }
        Pointer.memset(pointer, 0, floats * Float.BYTES);
        this.buffer = pointer.asBuffer();
        this.address = pointer.address();
    }

    /** The memory of a tensor of the cpu backend. */
    static CpuMemory of(Tensor t) { return (CpuMemory) t.memory(); }

    /** The direct buffer holding a tensor of the cpu backend. */
    static FloatBuffer buffer(Tensor t) { return of(t).buffer; }

    /** The element offset of a tensor in its buffer. */
    static int offset(Tensor t) { return (int) t.offset(); }

    /** The address of a tensor's element 0. */
    static long address(Tensor t) { return of(t).address + t.offset() * Float.BYTES; }

    @Override
    public long capacity() { return buffer.capacity(); }

    @Override
    public Object owner() { return owner; }

    void release() { pointer.deallocate(); }
}
