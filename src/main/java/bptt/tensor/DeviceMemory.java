// DeviceMemory: one allocation owned by a backend (host array, native buffer, cl_mem, CUdeviceptr).
package bptt.tensor;

/** An allocation of float32 elements that belongs to exactly one backend. */
public interface DeviceMemory {
    /** Number of float elements in the allocation. */
    long capacity();

    /** The backend that allocated this memory, to reject tensors passed to the wrong backend. */
    Object owner();
}
