// CellType: the recurrent cell of every layer, with PyTorch's semantics (nn.RNN with tanh, nn.LSTM, nn.GRU).
package bptt.api;

import bptt.rnn.Cell;

import java.util.Locale;

/** The recurrent cell of a model's layers. */
public enum CellType {
    /** {@code nn.RNN(nonlinearity='tanh')}: h' = tanh(x·W_ihᵀ + h·W_hhᵀ + b). */
    TANH(Cell.TANH),
    /** {@code nn.LSTM}: gates i, f, g, o and a cell state c carried beside h. */
    LSTM(Cell.LSTM),
    /** {@code nn.GRU}: gates r, z, n. */
    GRU(Cell.GRU);

    final Cell cell;

    CellType(Cell cell) {
        this.cell = cell;
    }

    /**
     * The cell named {@code name}: tanh, lstm or gru, in any case.
     *
     * @param name the cell's name
     * @return the cell
     * @throws IllegalArgumentException for any other name
     */
    public static CellType parse(String name) {
        return of(Cell.parse(name));
    }

    static CellType of(Cell cell) {
        for (CellType c : values()) {
            if (c.cell == cell) {
                return c;
            }
        }
        throw new IllegalStateException("every cell has a type");
    }

    /** @return the lower-case name: tanh, lstm or gru */
    @Override
    public String toString() { return name().toLowerCase(Locale.ROOT); }
}
