// CheckpointWriterMain: a separate process that saves a large checkpoint to one path over and over, to be killed.
package bptt.train;

import bptt.train.SafetensorsFile.TensorData;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Usage: PATH FLOATS FIRST_VERSION. Saves versions FIRST_VERSION, FIRST_VERSION + 1, ... until killed. */
public final class CheckpointWriterMain {
    private CheckpointWriterMain() {}

    /** Value i of version v: exact in float for v < 4096, and different for every version. */
    static float value(long version, int i) {
        return version * 4096f + (i & 4095);
    }

    static void save(Path path, int floats, long version) {
        float[] values = new float[floats];
        for (int i = 0; i < floats; i++) {
            values[i] = value(version, i);
        }
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        tensors.put("big", TensorData.vector(values));
        tensors.put("version", new TensorData(new int[]{}, new float[]{version}));
        SafetensorsFile.write(path, tensors, Map.of("version", Long.toString(version)));
    }

    public static void main(String[] args) {
        Path path = Path.of(args[0]);
        int floats = Integer.parseInt(args[1]);
        for (long version = Long.parseLong(args[2]); ; version++) {
            save(path, floats, version);
            System.out.println("saved " + version);
            System.out.flush();
        }
    }
}
