from kuaichu.bus import EventBus


async def test_a_subscriber_receives_what_is_published_on_its_channel(bus: EventBus) -> None:
    async with bus.subscribe("case:1") as subscription:
        await bus.publish("case:2", {"event": "elsewhere"})
        await bus.publish("case:1", {"event": "evacuate", "case_id": 1})
        assert await subscription.get(timeout=5) == {"event": "evacuate", "case_id": 1}
        assert await subscription.get(timeout=0.2) is None


async def test_every_subscriber_of_a_channel_gets_the_message(bus: EventBus) -> None:
    async with bus.subscribe("queue:330102") as first, bus.subscribe("queue:330102") as second:
        await bus.publish("queue:330102", {"waiting": 3})
        assert await first.get(timeout=5) == {"waiting": 3}
        assert await second.get(timeout=5) == {"waiting": 3}
