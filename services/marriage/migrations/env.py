from chassis.migrations import run_env
from services.marriage.models import Base

run_env(Base.metadata)
