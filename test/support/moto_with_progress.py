"""moto's server with the two state progressions moto 5.2.1 lacks, and one wire-format fix.

Out of the box an EMR step stays RUNNING and a Redshift Data API statement stays STARTED for
ever, and moto's state manager (/moto-api/state-manager) has no model for either. Here each
completes the way a quick real one would: the first DescribeStep / DescribeStatement while it runs
still answers RUNNING / STARTED, the next one COMPLETED / FINISHED (and the cluster's next PENDING
step starts). And moto writes a statement's CreatedAt / UpdatedAt as ISO text where the
Redshift Data API (awsJson) sends epoch seconds, which the AWS SDK v3 refuses to read; here they
are epoch seconds. Nothing else about moto changes. Run as `python3 moto_with_progress.py -H … -p …`.
"""

import sys
from datetime import datetime, timezone

from moto.core.utils import utcnow
from moto.emr import models as emr
from moto.redshiftdata import models as redshiftdata
from moto.server import main

_describe_step = emr.ElasticMapReduceBackend.describe_step


def describe_step(self, cluster_id, step_id):
    step = _describe_step(self, cluster_id, step_id)
    if step is not None and step.state == "RUNNING":
        if getattr(step, "_seen_running", False):
            step.state = "COMPLETED"
            step.end_date_time = utcnow()
            for other in self.clusters[cluster_id].steps:
                if other.state == "PENDING":
                    other.state = "RUNNING"
                    other.start()
                    break
        else:
            step._seen_running = True
    return step


_describe_statement = redshiftdata.RedshiftDataAPIServiceBackend.describe_statement


def describe_statement(self, statement_id):
    statement = _describe_statement(self, statement_id)
    if statement.status == "STARTED":
        if getattr(statement, "_seen_started", False):
            statement.status = "FINISHED"
        else:
            statement._seen_started = True
    return statement


_statement_init = redshiftdata.Statement.__init__


def statement_init(self, *args, **kwargs):
    _statement_init(self, *args, **kwargs)
    now = datetime.now(timezone.utc).timestamp()
    self.created_at = now
    self.updated_at = now


emr.ElasticMapReduceBackend.describe_step = describe_step
redshiftdata.Statement.__init__ = statement_init
redshiftdata.RedshiftDataAPIServiceBackend.describe_statement = describe_statement

if __name__ == "__main__":
    main(sys.argv[1:])
