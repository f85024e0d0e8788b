"""Models the course itself uses: the stronger CNN of lesson 6 (the stretch goal).

It is not an exercise, so it lives here rather than in solutions/: lesson 6,
`mnist-course train` and the benchmark build it from this one place. Like every
model of the course it takes raw pixels (0-255) and scales them itself.
"""

from __future__ import annotations


def stronger_cnn():
    """The lesson 5 network, made stronger: batch normalisation after each
    convolution, and light augmentation (small rotations and shifts) that
    only acts during training."""
    import keras
    from keras import layers

    def conv_block(filters, **kwargs):
        # Batch normalisation has its own shift, so the convolution needs no bias.
        return [layers.Conv2D(filters, 3, use_bias=False, **kwargs), layers.BatchNormalization(), layers.Activation("relu")]

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Rescaling(1 / 255),
            layers.RandomRotation(0.04, fill_mode="constant"),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
            *conv_block(32, padding="same"),
            layers.MaxPooling2D(),
            *conv_block(64, padding="same"),
            layers.MaxPooling2D(),
            *conv_block(64),
            layers.Flatten(),
            layers.Dropout(0.4),
            layers.Dense(128, use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dropout(0.4),
            layers.Dense(10, activation="softmax"),
        ],
        name="stronger_cnn",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# How lesson 6, `mnist-course train` and the benchmark train it.
STRONGER_CNN_SETTINGS = {"epochs": 40, "batch_size": 128, "validation_split": 0.1}


def stronger_cnn_callbacks():
    """Halve the learning rate when validation loss stalls; stop when validation
    accuracy has not improved for 8 epochs, keeping the best weights."""
    import keras

    return [
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=8, restore_best_weights=True),
    ]
