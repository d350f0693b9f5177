"""The HL7 v2 side: the MLLP server and its intake, the inbox worker, result delivery (MLLP
and FHIR) and the re-lookup loop. The names below are the entry points."""

from hl7_listener.client import MllpClient
from hl7_listener.fhir_delivery import FhirDelivery
from hl7_listener.outbound import OutboundSender
from hl7_listener.router import Intake
from hl7_listener.server import MllpServer
from hl7_listener.worker import InboxWorker

__all__ = [
    "FhirDelivery",
    "InboxWorker",
    "Intake",
    "MllpClient",
    "MllpServer",
    "OutboundSender",
]
