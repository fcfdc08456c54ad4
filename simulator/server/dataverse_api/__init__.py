"""A Dataverse Web API face on ``stampede serve`` (``/api/data/v9.2/``): the OData subset real clients use, over
the live server's store, behind the live model's service protection (issue #26; docs/dataverse-client.md).

    errors.py      Dataverse's error shape (ODataError)
    odata.py       $filter → SQL, $select, $orderby, $top, keys (pure)
    tables.py      the entity sets over the store's tables, ids as GUIDs
    records.py     the rows: the face's own SQLite connection to --db, the catalog in memory
    protection.py  app user, web server, admission by the model's DataverseModel, the ledger
    operations.py  one request → its calls and its work; batch.py the $batch
    routes.py      the ASGI app (DataverseFace)
    face.py        build_face: all of it for a live model
"""

from simulator.server.dataverse_api.face import build_face
from simulator.server.dataverse_api.operations import API_PATH
from simulator.server.dataverse_api.protection import Ledger, processor_users
from simulator.server.dataverse_api.routes import DataverseFace

__all__ = ["build_face", "DataverseFace", "API_PATH", "Ledger", "processor_users"]
