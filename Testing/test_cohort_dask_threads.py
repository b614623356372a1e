"""Dask workers: a worker process caps ITK's and PyTorch's threads as distributed caps OpenMP's, so
that its tasks do not each use every core; a worker inside the client's process is left alone."""

from __future__ import annotations

import pytest

from ResponsePredictorLib.cohort.worker import cap_dask_worker_threads

pytest.importorskip("distributed")


def thread_counts() -> tuple[int | None, int, int]:
    import SimpleITK as sitk
    import torch

    cap = cap_dask_worker_threads()
    return cap, sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(), torch.get_num_threads()


def test_a_dask_worker_process_gives_itk_and_torch_the_nannys_thread_cap():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        omp = client.submit(lambda: __import__("os").environ.get("OMP_NUM_THREADS")).result()
        cap, itk_threads, torch_threads = client.submit(thread_counts, pure=False).result()
    assert omp == "1"  # distributed's default for the processes it spawns
    assert cap == itk_threads == torch_threads == 1


def test_a_worker_in_the_clients_own_process_leaves_its_threads_alone():
    import SimpleITK as sitk
    from distributed import Client, LocalCluster

    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        cap, itk_threads, _ = client.submit(thread_counts, pure=False).result()
    assert cap is None and itk_threads == before
