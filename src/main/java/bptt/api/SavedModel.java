// SavedModel: a checkpoint read from disk: the model it holds, and the run it can resume.
package bptt.api;

import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import bptt.train.TrainingState;
import bptt.train.Vocabulary;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A safetensors checkpoint with PyTorch's names ({@code rnn.weight_ih_l0}, …, {@code decoder.weight},
 * {@code decoder.bias}), read and checked (every tensor's CRC-32C, no NaN or infinity), as
 * {@link Model#save} or {@link Training#save} wrote it, or as PyTorch saved an {@code nn.RNN},
 * {@code nn.LSTM} or {@code nn.GRU} with an {@code nn.Linear} decoder.
 */
public final class SavedModel {
    final Checkpoint checkpoint;

    private SavedModel(Checkpoint checkpoint) {
        this.checkpoint = checkpoint;
    }

    /**
     * Reads a checkpoint.
     *
     * @param file a .safetensors file
     * @return what it holds
     * @throws BpttException when the file is missing, corrupt or not a model of this kind
     */
    public static SavedModel read(Path file) {
        return Failures.call(() -> new SavedModel(CheckpointIo.load(file)));
    }

    /**
     * Why a run that saves a model of {@code spec} should not replace {@code file}, reading only
     * its header: it is not a readable bptt checkpoint, or it holds another model, or a text
     * model of other characters. A run may replace a checkpoint of its own model.
     *
     * @param file an existing file
     * @param spec the model the run would save there
     * @return the reason ("FILE holds another model (...)"), or null when it holds a model of this spec
     */
    public static String differenceFrom(Path file, ModelSpec spec) {
        String characters = spec.vocabulary();
        return CheckpointIo.differenceFrom(file, spec.config(), characters == null ? null
                : Vocabulary.fromCharacters(characters).codePoints());
    }

    /** @return the model's shape (and a text model's characters) */
    public ModelSpec spec() {
        int[] vocab = checkpoint.vocab();
        return ModelSpec.of(checkpoint.config(), vocab == null ? null : new String(vocab, 0, vocab.length));
    }

    /** @return the file it was read from */
    public Path file() { return checkpoint.source(); }

    /** @return true when it holds a training run's state ({@link Training#save}), which {@link Training#resume} continues */
    public boolean resumable() { return checkpoint.metadata().containsKey("train"); }

    /**
     * The settings of the run it holds, as saved: "hidden", "batch", "seq_len", "lr", "optimizer",
     * "task", "data", … and whatever the saver added.
     *
     * @return setting name to value, as text
     * @throws BpttException when it holds no run (see {@link #resumable}) or its settings are unreadable
     */
    public Map<String, String> settings() {
        return Failures.call(() -> {
            JsonObject saved = TrainingState.trainSettings(checkpoint);
            Map<String, String> settings = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : saved.entrySet()) {
                settings.put(e.getKey(), e.getValue().isJsonPrimitive() ? e.getValue().getAsString() : e.getValue().toString());
            }
            return settings;
        });
    }

    /**
     * A model on {@code device} holding these weights; the caller closes it.
     *
     * @param device where the weights go
     * @return the model
     */
    public Model open(Device device) {
        return Failures.call(() -> new Model(device, checkpoint.model(device.backend), spec()));
    }
}
