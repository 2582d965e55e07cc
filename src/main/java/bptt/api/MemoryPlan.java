// MemoryPlan: what a training run will allocate, item by item (device tensors, host staging, Java heap), before it allocates anything.
package bptt.api;

import bptt.train.MemoryEstimate;

import java.util.List;
import java.util.Locale;

/**
 * A run's memory, as {@link Training#plan} works it out from the model, the window and the
 * activation schedule: every allocation with its shape and bytes. The JVM's own code, classes,
 * threads and free heap come on top.
 *
 * @param parameters      weights and biases
 * @param checkpointEvery k when hidden states are kept every k steps, 0 when every step is kept
 * @param outputChunk     time steps whose outputs are computed at once
 * @param items           every allocation
 * @param deviceBytes     bytes of tensors on the device
 * @param hostBytes       bytes of host staging outside the Java heap (native or pinned)
 * @param heapBytes       bytes of the Java heap
 */
public record MemoryPlan(long parameters, int checkpointEvery, int outputChunk, List<Item> items, long deviceBytes,
                         long hostBytes, long heapBytes) {
    /** Where an allocation lives. */
    public enum Place {
        /** a tensor on the device (the backend's memory) */
        DEVICE,
        /** host staging outside the Java heap (native or pinned) */
        HOST,
        /** the Java heap */
        HEAP
    }

    /**
     * {@code count} allocations of (rows, cols) elements of {@code elementBytes} each.
     *
     * @param place        where they live
     * @param group        what they belong to: parameters, optimizer, workspace, window or host
     * @param name         what they hold
     * @param note         for host and heap items: the element type or how it is estimated ("" for none)
     * @param count        how many
     * @param rows         rows of each
     * @param cols         columns of each
     * @param elementBytes bytes per element
     * @param bytes        count·rows·cols·elementBytes (Long.MAX_VALUE beyond it)
     */
    public record Item(Place place, String group, String name, String note, long count, long rows, long cols,
                       long elementBytes, long bytes) {
        /** @return "(rows, cols)" */
        public String shape() { return String.format(Locale.ROOT, "(%,d, %,d)", rows, cols); }
    }

    /** The plan of an engine estimate. */
    static MemoryPlan of(MemoryEstimate e) {
        List<Item> items = e.items().stream().map(i -> new Item(Place.valueOf(i.place().name()), i.group(), i.name(),
                i.note(), i.count(), i.rows(), i.cols(), i.elementBytes(), i.bytes())).toList();
        return new MemoryPlan(e.parameters(), e.plan().resident() ? 0 : e.plan().segmentSteps(), e.plan().chunkSteps(),
                items, e.backendBytes(), e.hostBytes(), e.heapBytes());
    }

    /** @return device, host and heap bytes together (Long.MAX_VALUE beyond it) */
    public long totalBytes() { return add(deviceBytes, add(hostBytes, heapBytes)); }

    private static long add(long a, long b) { return a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b; }

    /**
     * @param budget bytes
     * @return whether the total is within it
     */
    public boolean fits(long budget) { return totalBytes() <= budget; }

    /**
     * Bytes as text with one decimal: "812 bytes", "12.5 MiB", "1.2 GiB".
     *
     * @param bytes a count of bytes
     * @return the text
     */
    public static String size(long bytes) { return MemoryEstimate.size(bytes); }
}
