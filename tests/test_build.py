"""The papermill build: runs in order, names the failing notebook and cell, keeps earlier work."""

import nbformat
import numpy as np
import pytest

from tinyml_helpers.tooling import build


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture
def lessons(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    _notebook(src / "01_ok.ipynb", "x = 1", "print(x + 1)")
    _notebook(src / "02_broken.ipynb", "y = 2", "raise ValueError('broken on purpose')", "z = 3")
    _notebook(src / "03_never.ipynb", "print('unreached')")
    return src


def test_build_stops_at_the_failing_notebook_and_names_the_cell(lessons, tmp_path, capsys):
    out = tmp_path / "build"
    (out / "notebooks").mkdir(parents=True)
    (out / "notebooks" / "01_ok.ipynb").write_text("stale")  # replaced by the new result
    assert build.build(None, notebook_dir=lessons, build_dir=out) == 1
    err = capsys.readouterr().err
    assert "FAILED: 02_broken.ipynb at cell [2]: ValueError: broken on purpose" in err
    done = nbformat.read(str(out / "notebooks" / "01_ok.ipynb"), as_version=4)
    assert done.cells[1].outputs[0]["text"] == "2\n"
    assert (out / "notebooks" / "02_broken.failed.ipynb").exists()
    assert not (out / "notebooks" / "02_broken.ipynb").exists()
    assert not (out / "notebooks" / "03_never.ipynb").exists()
    assert not list((out / "notebooks").glob(".*tmp*")), "no half-written files left"
    for src in lessons.iterdir():  # sources are never overwritten
        assert not nbformat.read(str(src), as_version=4).cells[0].get("outputs")


def test_build_selects_by_number_and_writes_times(lessons, tmp_path):
    out = tmp_path / "build"
    assert build.build(["01"], notebook_dir=lessons, build_dir=out) == 0
    assert (out / "notebooks" / "01_ok.ipynb").exists()
    assert "01_ok.ipynb" in (out / "notebook_times.json").read_text()


def test_unknown_lesson_is_a_clear_error(lessons):
    with pytest.raises(ValueError, match="no lesson notebook matches '09'"):
        build.select(["09"], lessons)


def _tree(root, files):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_compare_trees_names_new_removed_and_changed_files(tmp_path):
    _tree(tmp_path / "new", {"a/x.c": "1", "a/y.c": "2", "p/build/sketch.hex": "fw",
                             "n.md": "new"})
    _tree(tmp_path / "old", {"a/x.c": "1", "a/y.c": "3", "gone.md": "old"})
    assert build.compare_trees(tmp_path / "new", tmp_path / "old") == [
        "changed  a/y.c", "removed  gone.md", "new      n.md"]
    # a Wokwi project's compiled firmware is made on each machine and never compared
    assert build.compare_trees(tmp_path / "old", tmp_path / "old") == []


@pytest.fixture
def export_dir(sine, tmp_path):
    from tinyml_helpers import sine_projects
    from tinyml_helpers.deploy import litert
    model, float_tflite, int8_tflite = sine
    out = tmp_path / "export"
    out.mkdir()
    (out / sine_projects.FLOAT_NAME).write_bytes(float_tflite)
    (out / sine_projects.INT8_NAME).write_bytes(int8_tflite)
    rep = np.linspace(0, 2 * np.pi, 500, dtype=np.float32).reshape(-1, 1)
    tflm_model = litert.convert(model, "int8", rep, per_channel=False)
    (out / sine_projects.TFLM_NAME).write_bytes(tflm_model)
    return out


def test_an_export_without_the_tflm_model_is_refused(export_dir, tmp_path):
    from tinyml_helpers import sine_projects
    (export_dir / sine_projects.TFLM_NAME).unlink()
    with pytest.raises(ValueError, match="sine_int8_per_tensor.tflite.*run lesson 06 again"):
        build.export_projects(export_dir, tmp_path / "repo", tmp_path / "staging")


def test_differing_projects_are_kept_and_listed_unless_updated(export_dir, tmp_path, capsys):
    root = tmp_path / "repo"
    _tree(root, {"arduino/README.md": "committed by hand", "wokwi/README.md": "committed"})
    staging = tmp_path / "staging"
    differences = build.export_projects(export_dir, root, staging)
    assert "changed  arduino/README.md" in differences
    assert any(line.startswith("new      wokwi/uno_hello_world_plain/") for line in differences)
    assert (root / "arduino/README.md").read_text() == "committed by hand"
    assert sorted(p.name for p in root.iterdir()) == ["arduino", "wokwi"]
    assert (staging / "arduino/hello_world_plain/hello_world_plain.ino").exists()
    assert "KEPT the committed arduino/ and wokwi/" in capsys.readouterr().err

    assert build.export_projects(export_dir, root, staging, update=True) == differences
    assert (root / "arduino/hello_world_plain/hello_world_plain.ino").exists()
    # the same export again reproduces the folders exactly, and says so
    assert build.export_projects(export_dir, root, staging) == []
    assert "reproduced exactly" in capsys.readouterr().out


def _wait_for_reply_after_a_widget_send(send_update) -> float:
    """Seconds a pending shell-channel poll (2 s timeout) takes to see an execute_reply that
    arrived just before a widget update was sent on the same socket (jupyter/nbclient#312)."""
    import asyncio
    import time

    import zmq
    import zmq.asyncio
    from jupyter_client import channels
    from jupyter_client.session import Session

    # jupyter_client 8 has an asyncio subclass; in 7 the channel itself is the asyncio one
    channel_class = getattr(channels, "AsyncZMQSocketChannel", channels.ZMQSocketChannel)

    async def scenario():
        kernel = zmq.Context.instance().socket(zmq.ROUTER)
        port = kernel.bind_to_random_port("tcp://127.0.0.1")
        client = zmq.asyncio.Context.instance().socket(zmq.DEALER)
        client.connect(f"tcp://127.0.0.1:{port}")
        session = Session(key=b"")
        channel = channel_class(client, session)
        try:
            channel.send(session.msg("execute_request", {"code": "interact(f, x=1)"}))
            ident = kernel.recv_multipart()[0]
            start = time.monotonic()
            pending = asyncio.ensure_future(channel.get_msg(timeout=2))
            await asyncio.sleep(0.05)  # the client now waits for the reply
            session.send(kernel, "execute_reply", {"status": "ok"}, ident=[ident])
            # blocking on purpose: the reply lands while the client is busy with output
            time.sleep(0.05)  # noqa: ASYNC251
            send_update(channel, session.msg("comm_msg", {"data": {"state": {}}}))
            reply = await pending
            assert reply["msg_type"] == "execute_reply"
            return time.monotonic() - start
        finally:
            client.close(0)
            kernel.close(0)

    return asyncio.run(scenario())


def test_a_widget_update_no_longer_hides_the_cells_reply():
    """The stall the build's nbclient patch fixes: without it, a synchronous send on the shell
    socket swallows the wake-up of the pending poll, which then waits out its timeout."""
    from jupyter_client.session import Session

    build._patch_nbclient()
    patched = _wait_for_reply_after_a_widget_send(lambda channel, msg: channel.send(msg))
    unpatched = _wait_for_reply_after_a_widget_send(
        lambda channel, msg: Session.send(channel.session, channel.socket, msg))
    assert patched < 1.0
    assert unpatched > 1.9, "the control should show the stall the patch prevents"
