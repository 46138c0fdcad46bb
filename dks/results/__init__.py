"""The results folder: its files, its metadata, its write transaction.

What every step that reads or writes a results folder (:doc:`/results`) shares:

========================  ===========================================================
``_folder``               file names, the write transaction, the results folder check
``_io``                   JSON / CSV / ``.npy`` reading and writing, :func:`load_results`
``_settings``             the embedding settings, once (``EmbedSettings``), which the
                          steps, the command line and the store's manifest follow
``_layer_groups``         layer membership, read back from ``embedding.json``
``_lock``                 one writer per results folder
``_log``                  progress lines and timings of a step
``_errors``               :class:`AnalysisError`, and disk errors said as such
========================  ===========================================================
"""

from dks.report import SummaryRecord  # summary.json: beside the report, its first reader
from dks.results._damage import damaged_store
from dks.results._errors import AnalysisError, disk_errors
from dks.results._folder import (
    DATASET_FILE,
    EMBEDDING_FILES,
    EXPORT_FILES,
    FNE_FILE,
    FORMAT,
    IMAGES_DIR,
    OUTPUTS,
    REPORT_FILES,
    STATS_FILES,
    STORE,
    VALIDITY_DIR,
    check_out,
    check_writable,
    transaction,
)
from dks.results._io import (
    CLASS_NOISE_COLUMNS,
    csv_cell,
    embedding_reader,
    jsonable,
    load_results,
    read_embedding,
    read_embedding_meta,
    read_json,
    save_npy,
    write_csv,
    write_json,
)
from dks.results._layer_groups import layer_groups, layer_of_columns
from dks.results._lock import writer_lock
from dks.results._log import Log, format_seconds
from dks.results._records import EmbeddingRecord
from dks.results._settings import EmbedSettings

__all__ = [
    "CLASS_NOISE_COLUMNS",
    "DATASET_FILE",
    "EMBEDDING_FILES",
    "EXPORT_FILES",
    "FNE_FILE",
    "FORMAT",
    "IMAGES_DIR",
    "OUTPUTS",
    "REPORT_FILES",
    "STATS_FILES",
    "STORE",
    "VALIDITY_DIR",
    "AnalysisError",
    "EmbedSettings",
    "EmbeddingRecord",
    "Log",
    "SummaryRecord",
    "check_out",
    "check_writable",
    "csv_cell",
    "damaged_store",
    "disk_errors",
    "embedding_reader",
    "format_seconds",
    "jsonable",
    "layer_groups",
    "layer_of_columns",
    "load_results",
    "read_embedding",
    "read_embedding_meta",
    "read_json",
    "save_npy",
    "transaction",
    "write_csv",
    "write_json",
    "writer_lock",
]
